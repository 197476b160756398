package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// stateFormat is the version of the Save/Load format.
const stateFormat = 1

type stateFile struct {
	Format  int                      `json:"format"`
	Backend Backend                  `json:"backend"`
	Stores  map[string]storeSnapshot `json:"stores"` // "" for apisix, gateway group id for api7ee
}

type storeSnapshot struct {
	Revision int64            `json:"revision"`
	Objects  []objectSnapshot `json:"objects"`
}

type objectSnapshot struct {
	Collection    string         `json:"collection"`
	ID            string         `json:"id"`
	CreatedIndex  int64          `json:"createdIndex"`
	ModifiedIndex int64          `json:"modifiedIndex"`
	Value         map[string]any `json:"value"`
}

// Save writes the stores (objects, indexes and revisions) as JSON. The
// output holds plugin secrets and SSL keys in plaintext, as etcd would after
// decryption: keep the file private.
func (e *Emulator) Save(w io.Writer) error {
	e.dataMu.Lock()
	sf := stateFile{Format: stateFormat, Backend: e.cfg.backend, Stores: map[string]storeSnapshot{}}
	if e.cfg.backend == BackendAPI7EE {
		for id, s := range e.byGG {
			sf.Stores[id] = snapshot(s)
		}
	} else {
		sf.Stores[""] = snapshot(e.gw)
	}
	e.dataMu.Unlock()
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(sf); err != nil {
		return fmt.Errorf("emulator: save state: %w", err)
	}
	return nil
}

func snapshot(s *store) storeSnapshot {
	ss := storeSnapshot{Revision: s.rev, Objects: []objectSnapshot{}}
	for _, name := range sortedKeys(s.cols) {
		s.cols[name].byKey.Ascend(0, func(_ string, o *object) bool {
			ss.Objects = append(ss.Objects, objectSnapshot{
				Collection: o.col, ID: o.id, CreatedIndex: o.created, ModifiedIndex: o.modified, Value: o.value,
			})
			return true
		})
	}
	return ss
}

// Load replaces the stores with a state written by Save. The backend must
// match; api7ee gateway groups not configured in this emulator are refused.
func (e *Emulator) Load(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("emulator: load state: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var sf stateFile
	if err := d.Decode(&sf); err != nil {
		return fmt.Errorf("emulator: load state: %w", err)
	}
	if sf.Format != stateFormat {
		return fmt.Errorf("emulator: load state: format %d, want %d", sf.Format, stateFormat)
	}
	if sf.Backend != e.cfg.backend {
		return fmt.Errorf("emulator: load state: saved for backend %q, this emulator is %q", sf.Backend, e.cfg.backend)
	}
	stores := map[string]*store{}
	for id, ss := range sf.Stores {
		s := newStore()
		objs := append([]objectSnapshot(nil), ss.Objects...)
		sort.SliceStable(objs, func(i, j int) bool { return objs[i].CreatedIndex < objs[j].CreatedIndex })
		for _, o := range objs {
			if o.Collection == "" || o.ID == "" || o.Value == nil {
				return fmt.Errorf("emulator: load state: object without collection, id or value")
			}
			val, _ := canon(o.Value).(map[string]any)
			obj, _ := s.put(o.Collection, o.ID, val, 0, e.cfg.now())
			c := s.col(o.Collection, false)
			c.byCreated.Delete(obj.created)
			obj.created, obj.modified = o.CreatedIndex, o.ModifiedIndex
			c.byCreated.Set(obj.created, obj)
		}
		if ss.Revision > s.rev {
			s.rev = ss.Revision
		}
		stores[id] = s
	}
	e.dataMu.Lock()
	defer e.dataMu.Unlock()
	if e.cfg.backend == BackendAPI7EE {
		for id := range stores {
			if _, ok := e.byGG[id]; !ok {
				return fmt.Errorf("emulator: load state: unknown gateway group %q", id)
			}
		}
		for id, s := range stores {
			e.byGG[id] = s
		}
		return nil
	}
	if s, ok := stores[""]; ok {
		e.gw = s
	}
	return nil
}
