package git

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// verifiedStore checks every object it gives back against its hash, so a
// damaged cache is detected rather than read: an object whose content no
// longer matches its name (a tree that lost entries, a blob that changed)
// is an error, and the fetch starts afresh (see Source.damaged). Without
// it, go-git reads a loose object's content as it finds it, and a tree
// missing files would be a desired state missing resources.
type verifiedStore struct {
	storer.EncodedObjectStorer
}

// EncodedObject reads the object whole, checks its hash and returns it in
// memory.
func (v verifiedStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := v.EncodedObjectStorer.EncodedObject(t, h)
	if err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, cacheError(fmt.Errorf("object %s: %w", h, err))
	}
	defer r.Close()
	size := obj.Size()
	content := make([]byte, size, size+1)
	n, err := io.ReadFull(r, content)
	if err != nil {
		return nil, cacheError(fmt.Errorf("object %s: %d bytes of %d: %w", h, n, size, err))
	}
	if extra, _ := r.Read(content[size : size+1]); extra > 0 {
		return nil, cacheError(fmt.Errorf("object %s: longer than its header's %d bytes", h, size))
	}
	if got := plumbing.ComputeHash(obj.Type(), content); got != h {
		return nil, cacheError(fmt.Errorf("object %s: content hashes to %s", h, got))
	}
	return &heldObject{hash: h, typ: obj.Type(), content: content}, nil
}

// heldObject is an object read whole and checked: its content is handed
// out without another copy.
type heldObject struct {
	hash    plumbing.Hash
	typ     plumbing.ObjectType
	content []byte
}

func (o *heldObject) Hash() plumbing.Hash         { return o.hash }
func (o *heldObject) Type() plumbing.ObjectType   { return o.typ }
func (o *heldObject) SetType(plumbing.ObjectType) {}
func (o *heldObject) Size() int64                 { return int64(len(o.content)) }
func (o *heldObject) SetSize(int64)               {}
func (o *heldObject) Reader() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.content)), nil
}
func (o *heldObject) Writer() (io.WriteCloser, error) { return nil, errors.New("read-only object") }

// cacheError is an object the cache cannot give back intact: damage.
func cacheError(err error) error {
	return &Error{Op: "read cache", Class: ErrUnavailable, Err: err}
}
