package model

import "testing/fstest"

// loadString loads one YAML document as the file config.yaml.
func loadString(doc string) ([]Resource, error) {
	return Load(fstest.MapFS{"config.yaml": {Data: []byte(doc)}}, LoadOptions{})
}
