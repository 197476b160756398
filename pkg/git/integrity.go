package git

import (
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
	content, err := io.ReadAll(io.LimitReader(r, obj.Size()+1))
	if err != nil {
		return nil, cacheError(fmt.Errorf("object %s: %w", h, err))
	}
	if int64(len(content)) != obj.Size() {
		return nil, cacheError(fmt.Errorf("object %s: %d bytes, header said %d", h, len(content), obj.Size()))
	}
	if got := plumbing.ComputeHash(obj.Type(), content); got != h {
		return nil, cacheError(fmt.Errorf("object %s: content hashes to %s", h, got))
	}
	m := &plumbing.MemoryObject{}
	m.SetType(obj.Type())
	m.SetSize(obj.Size())
	if _, err := m.Write(content); err != nil {
		return nil, cacheError(err)
	}
	return m, nil
}

// cacheError is an object the cache cannot give back intact: damage.
func cacheError(err error) error {
	return &Error{Op: "read cache", Class: ErrUnavailable, Err: err}
}
