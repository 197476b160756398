package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// LoadOptions configure Load.
type LoadOptions struct {
	// Env looks up a variable for ${VAR} substitution (os.LookupEnv in main).
	// Nil means no variable is set: every ${VAR} without a default is an
	// error.
	Env func(string) (string, bool)
	// Paths restricts loading to these files and directories inside the FS
	// (slash-separated, as fs.FS names them). Empty means the whole FS. A
	// file named here is loaded whatever its name; directories are walked
	// like the root.
	Paths []string
}

// Load reads every *.yaml, *.yml and *.json file under the root of fsys (or
// under opts.Paths), skipping names that start with "." (and so .git/), and
// returns the resources they declare in ADC's format, sorted by Key.
//
// Bodies are as ADC's lint leaves them: ADC's schema defaults are filled in
// (upstream type, scheme and pass_host, node priority, keepalive_pool and
// health-check fields when those objects are present, SSL type and client
// depth), so that they equal what ADC sends.
//
// Files larger than MaxFileSize, or a set of files larger than MaxTreeSize,
// are refused from their sizes before anything is parsed: the error matches
// ErrTooLarge. A file holding SOPS ciphertext is refused from its bytes,
// before it is parsed: the error matches ErrDecryptionRequired. Invalid
// input gives an Errors listing every problem found, each with file, line
// and resource; it matches ErrInvalid. Any other error (reading the FS) is
// returned wrapped and matches none of them.
//
// Load is deterministic: the same files and variables give the same
// resources and the same errors.
func Load(fsys fs.FS, opts LoadOptions) ([]Resource, error) {
	files, err := listFiles(fsys, opts.Paths)
	if err != nil {
		return nil, err
	}
	if errs := checkSizes(files); len(errs) > 0 {
		return nil, errs
	}
	results := parseFiles(fsys, files, opts.Env)

	var errs Errors
	total := 0
	for _, r := range results {
		total += len(r.decls)
	}
	decls := make([]decl, 0, total)
	for i, r := range results {
		if r.ioErr != nil {
			return nil, fmt.Errorf("load %s: %w", files[i].name, r.ioErr)
		}
		errs = append(errs, r.errs...)
		decls = append(decls, r.decls...)
	}
	if len(errs) > 0 {
		// Every mistake at once: the cross-file checks too.
		errs = append(errs, crossCheck(decls)...)
		sortErrors(errs)
		return nil, errs
	}
	// The cross-file checks read the resources where the files' builders
	// put them; the copy returned is sorted meanwhile, on another core.
	out := make([]Resource, len(decls))
	for i, d := range decls {
		out[i] = *d.res
	}
	sorted := make(chan struct{})
	go func() {
		defer close(sorted)
		slices.SortFunc(out, func(a, b Resource) int {
			switch {
			case a.Key == b.Key:
				return 0
			case a.Key.Less(b.Key):
				return -1
			}
			return 1
		})
	}()
	errs = crossCheck(decls)
	<-sorted
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return out, nil
}

// file is one file to load.
type file struct {
	name string
	size int64
}

// IsConfigFile reports whether Load reads the file at rel when it walks a
// directory: rel is slash-separated and relative to the directory walked;
// no element of it starts with "." (so .git/ and dot-files are skipped),
// and its name ends in .yaml, .yml or .json, in any case. A source that
// reads a tree before loading it (a Git commit) uses it to read, and count
// against the size limits, exactly the files Load will read. (A file named
// in LoadOptions.Paths is read whatever its name.)
func IsConfigFile(rel string) bool {
	for part := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(part, ".") {
			return false
		}
	}
	switch strings.ToLower(path.Ext(rel)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// listFiles finds the files to load, sorted by name, with their sizes
// from the FS's metadata (nothing is read).
func listFiles(fsys fs.FS, roots []string) ([]file, error) {
	if len(roots) == 0 {
		roots = []string{"."}
	}
	seen := make(map[string]bool)
	var out []file
	add := func(name string, size int64) {
		if !seen[name] {
			seen[name] = true
			out = append(out, file{name: name, size: size})
		}
	}
	for _, root := range roots {
		root = path.Clean(root)
		info, err := fs.Stat(fsys, root)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		if !info.IsDir() {
			if !info.Mode().IsRegular() {
				return nil, fmt.Errorf("load %s: not a regular file", root)
			}
			add(root, info.Size())
			continue
		}
		err = fs.WalkDir(fsys, root, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if name != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || !IsConfigFile(d.Name()) { // its directories were checked on the way down
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Mode()&fs.ModeSymlink != 0 {
				// A link to a file is loaded (Kubernetes mounts ConfigMaps
				// that way); its size is the target's.
				if info, err = fs.Stat(fsys, name); err != nil {
					return err
				}
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			add(name, info.Size())
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b file) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// checkSizes refuses files over MaxFileSize and a tree over MaxTreeSize.
func checkSizes(files []file) Errors {
	var errs Errors
	var total int64
	for _, f := range files {
		total += f.size
		if f.size > MaxFileSize {
			errs = append(errs, tooLarge(f.name, fmt.Sprintf("the file is %d bytes, over the limit of %d (4 MiB)", f.size, MaxFileSize)))
		}
	}
	if total > MaxTreeSize {
		errs = append(errs, tooLarge("", fmt.Sprintf("the %d files total %d bytes, over the limit of %d (64 MiB)", len(files), total, MaxTreeSize)))
	}
	return errs
}

func tooLarge(name, msg string) *Error {
	return &Error{File: name, Message: msg, tooLarge: true}
}

// parseFiles reads, parses and converts the files, in parallel, and returns
// the results in the order of files.
func parseFiles(fsys fs.FS, files []file, env func(string) (string, bool)) []fileResult {
	results := make([]fileResult, len(files))
	workers := min(runtime.GOMAXPROCS(0), len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			fp := new(fastParser) // reused: each file's nodes are garbage once converted
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				results[i] = loadFile(fsys, files[i], env, fp)
			}
		})
	}
	wg.Wait()
	return results
}

// loadFile reads and converts one file. It reads at most MaxFileSize+1
// bytes, so a file that grew since it was listed is still refused.
func loadFile(fsys fs.FS, fi file, env func(string) (string, bool), fp *fastParser) fileResult {
	name := fi.name
	f, err := fsys.Open(name)
	if err != nil {
		return fileResult{ioErr: err}
	}
	data, err := readAll(io.LimitReader(f, MaxFileSize+1), fi.size)
	cerr := f.Close()
	if err = errors.Join(err, cerr); err != nil {
		return fileResult{ioErr: err}
	}
	if len(data) > MaxFileSize {
		return fileResult{errs: []*Error{tooLarge(name, fmt.Sprintf("the file is over the limit of %d bytes (4 MiB)", MaxFileSize))}}
	}
	if e := encrypted(name, data); e != nil {
		return fileResult{errs: []*Error{e}}
	}
	doc, perr := parseYAML(name, data, fp)
	if perr != nil {
		return fileResult{errs: []*Error{perr}}
	}
	// Without an anchor (&) there can be no alias or merge to measure.
	return convertFile(name, doc, env, bytes.IndexByte(data, '&') >= 0)
}

// sopsValue starts every value SOPS encrypts; SOPS has no other cipher.
var sopsValue = []byte("ENC[AES256_GCM,")

// encrypted refuses a file that holds SOPS-encrypted values or SOPS's
// metadata block (a top-level sops key: "sops:" at the start of a line in
// YAML, "sops": in JSON), before it is parsed: ciphertext never reaches a
// resource, so it can never be sent (reliability row B5). The message
// names the line and never quotes the content.
func encrypted(name string, data []byte) *Error {
	at := bytes.Index(data, sopsValue)
	what := "SOPS-encrypted values (ENC[AES256_GCM,…])"
	if at < 0 {
		at = sopsMetadata(data)
		what = "SOPS metadata (a top-level sops key)"
	}
	if at < 0 {
		return nil
	}
	return &Error{
		File: name, Line: 1 + bytes.Count(data[:at], []byte("\n")), encrypted: true,
		Message: "the file holds " + what + ", and ciphertext is never sent to the gateway: " +
			"decrypt the file before the reconciler reads it (for example sops --decrypt in the step that checks it out), " +
			"or refer to the secret with $secret:// or $env://",
	}
}

// sopsMetadata returns the offset of a SOPS metadata key, or -1.
func sopsMetadata(data []byte) int {
	if bytes.HasPrefix(data, []byte("sops:")) {
		return 0
	}
	if j := bytes.Index(data, []byte("\nsops:")); j >= 0 {
		return j + 1
	}
	for rest, off := data, 0; ; {
		j := bytes.Index(rest, []byte(`"sops"`))
		if j < 0 {
			return -1
		}
		after := bytes.TrimLeft(rest[j+len(`"sops"`):], " \t\r\n")
		if len(after) > 0 && after[0] == ':' {
			return off + j
		}
		rest, off = rest[j+1:], off+j+1
	}
}

// readAll is io.ReadAll with a first buffer of the expected size.
func readAll(r io.Reader, size int64) ([]byte, error) {
	b := make([]byte, 0, min(size, MaxFileSize)+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// sortErrors orders errors by file and line, keeping the order of errors at
// the same place.
func sortErrors(errs Errors) {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
}
