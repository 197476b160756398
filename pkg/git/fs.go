package git

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// treeFS is an immutable in-memory file system holding the files read from
// one commit's tree. It implements fs.FS, fs.ReadFileFS, fs.ReadDirFS and
// fs.StatFS; every file has the commit's date as its modification time.
type treeFS struct {
	files map[string]*memFile
	dirs  map[string][]fs.DirEntry // sorted by name; "." is the root
	mtime time.Time
	blobs map[plumbing.Hash][]byte // contents by blob hash, for the next read
}

type memFile struct {
	name string // base name
	data []byte
	mode fs.FileMode
}

func newTreeFS(mtime time.Time) *treeFS {
	return &treeFS{
		files: map[string]*memFile{},
		dirs:  map[string][]fs.DirEntry{".": nil},
		mtime: mtime,
		blobs: map[plumbing.Hash][]byte{},
	}
}

// add records a file; p is slash-separated, valid and new (readTree checks).
func (t *treeFS) add(p string, data []byte, mode fs.FileMode) {
	f := &memFile{name: path.Base(p), data: data, mode: mode}
	t.files[p] = f
	t.link(p, fileInfo{name: f.name, size: int64(len(data)), mode: mode, mtime: t.mtime})
}

// link adds the entry for p to its parent directory, creating the parents.
func (t *treeFS) link(p string, info fileInfo) {
	dir := path.Dir(p)
	_, exists := t.dirs[dir]
	t.dirs[dir] = append(t.dirs[dir], fs.FileInfoToDirEntry(info))
	if !exists && dir != "." {
		t.link(dir, fileInfo{name: path.Base(dir), mode: fs.ModeDir | 0o755, mtime: t.mtime})
	}
}

// seal sorts the directory listings once all files are in.
func (t *treeFS) seal() {
	for _, entries := range t.dirs {
		slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
}

// Len is the number of files.
func (t *treeFS) Len() int { return len(t.files) }

func (t *treeFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if f, ok := t.files[name]; ok {
		return &openFile{Reader: bytes.NewReader(f.data), info: t.infoOf(f)}, nil
	}
	if entries, ok := t.dirs[name]; ok {
		return &openDir{info: t.dirInfo(name), entries: entries}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (t *treeFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	f, ok := t.files[name]
	if !ok {
		if _, isDir := t.dirs[name]; isDir {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
		}
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(f.data), nil // the caller may modify it
}

func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	entries, ok := t.dirs[name]
	if !ok {
		if _, isFile := t.files[name]; isFile {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
		}
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(entries), nil
}

func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if f, ok := t.files[name]; ok {
		return t.infoOf(f), nil
	}
	if _, ok := t.dirs[name]; ok {
		return t.dirInfo(name), nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (t *treeFS) infoOf(f *memFile) fileInfo {
	return fileInfo{name: f.name, size: int64(len(f.data)), mode: f.mode, mtime: t.mtime}
}

func (t *treeFS) dirInfo(name string) fileInfo {
	return fileInfo{name: path.Base(name), mode: fs.ModeDir | 0o755, mtime: t.mtime}
}

type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return i.mtime }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

type openFile struct {
	*bytes.Reader
	info fileInfo
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *openFile) Close() error               { return nil }

type openDir struct {
	info    fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *openDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *openDir) Close() error               { return nil }
func (d *openDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: fs.ErrInvalid}
}

func (d *openDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return slices.Clone(rest[:n]), nil
}
