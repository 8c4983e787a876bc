package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// pnode is one value of a pgroll file, decoded from YAML or JSON with the
// line it starts on, so that every warning and error can name its line.
type pnode struct {
	kind pkind
	line int
	str  string // scalar text (for pstring, pbool, pnumber)
	keys []string
	vals []*pnode // map values (parallel to keys) or sequence items
}

type pkind int

const (
	pnull pkind = iota
	pstring
	pbool
	pnumber
	pmap
	pseq
)

func (k pkind) String() string {
	return [...]string{"null", "string", "boolean", "number", "object", "list"}[k]
}

// get returns the value of key k of a map node, or nil.
func (n *pnode) get(k string) *pnode {
	for i, key := range n.keys {
		if key == k {
			return n.vals[i]
		}
	}
	return nil
}

// parsePgrollYAML decodes YAML into a pnode tree.
func parsePgrollYAML(data []byte) (*pnode, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty file")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("line %d: a second YAML document (one migration per file)", extra.Line)
	}
	return fromYAML(&doc)
}

func fromYAML(y *yaml.Node) (*pnode, error) {
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil, fmt.Errorf("empty file")
		}
		return fromYAML(y.Content[0])
	case yaml.AliasNode:
		return fromYAML(y.Alias)
	case yaml.MappingNode:
		n := &pnode{kind: pmap, line: y.Line}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k := y.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a plain string", k.Line)
			}
			if k.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not supported", k.Line)
			}
			if n.get(k.Value) != nil {
				return nil, fmt.Errorf("line %d: key %q given twice", k.Line, k.Value)
			}
			v, err := fromYAML(y.Content[i+1])
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.Value)
			n.vals = append(n.vals, v)
		}
		return n, nil
	case yaml.SequenceNode:
		n := &pnode{kind: pseq, line: y.Line}
		for _, c := range y.Content {
			v, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		return n, nil
	case yaml.ScalarNode:
		n := &pnode{line: y.Line, str: y.Value}
		switch y.ShortTag() {
		case "!!null":
			n.kind = pnull
		case "!!bool":
			n.kind = pbool
			b, err := strconv.ParseBool(strings.ToLower(y.Value))
			if err != nil {
				return nil, fmt.Errorf("line %d: invalid boolean %q", y.Line, y.Value)
			}
			n.str = strconv.FormatBool(b)
		case "!!int", "!!float":
			n.kind = pnumber
		default:
			n.kind = pstring
		}
		return n, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", y.Line)
}

// parsePgrollJSON decodes JSON into a pnode tree, tracking the line of each
// value from the decoder's input offset.
func parsePgrollJSON(data []byte) (*pnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	lineAt := func(off int64) int {
		// off is just after the token; step back over it to its start.
		if off > int64(len(data)) {
			off = int64(len(data))
		}
		return 1 + bytes.Count(data[:off], []byte("\n"))
	}
	var read func() (*pnode, error)
	read = func() (*pnode, error) {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(data, err)
		}
		// the token starts after any whitespace following start
		off := start
		for off < int64(len(data)) && strings.ContainsRune(" \t\r\n,:", rune(data[off])) {
			off++
		}
		line := lineAt(off)
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				n := &pnode{kind: pmap, line: line}
				for dec.More() {
					kstart := dec.InputOffset()
					kt, err := dec.Token()
					if err != nil {
						return nil, jsonErr(data, err)
					}
					k, _ := kt.(string)
					if n.get(k) != nil {
						koff := kstart
						for koff < int64(len(data)) && strings.ContainsRune(" \t\r\n,", rune(data[koff])) {
							koff++
						}
						return nil, fmt.Errorf("line %d: key %q given twice", lineAt(koff), k)
					}
					v, err := read()
					if err != nil {
						return nil, err
					}
					n.keys = append(n.keys, k)
					n.vals = append(n.vals, v)
				}
				if _, err := dec.Token(); err != nil {
					return nil, jsonErr(data, err)
				}
				return n, nil
			case '[':
				n := &pnode{kind: pseq, line: line}
				for dec.More() {
					v, err := read()
					if err != nil {
						return nil, err
					}
					n.vals = append(n.vals, v)
				}
				if _, err := dec.Token(); err != nil {
					return nil, jsonErr(data, err)
				}
				return n, nil
			}
		case string:
			return &pnode{kind: pstring, line: line, str: t}, nil
		case bool:
			return &pnode{kind: pbool, line: line, str: strconv.FormatBool(t)}, nil
		case json.Number:
			return &pnode{kind: pnumber, line: line, str: t.String()}, nil
		case nil:
			return &pnode{kind: pnull, line: line}, nil
		}
		return nil, fmt.Errorf("line %d: unexpected %v", line, tok)
	}
	n, err := read()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("line %d: text after the JSON value", lineAt(dec.InputOffset()))
	}
	return n, nil
}

func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := se.Offset
		if off > int64(len(data)) {
			off = int64(len(data))
		}
		return fmt.Errorf("line %d: %v", 1+bytes.Count(data[:off], []byte("\n")), err)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected end of JSON")
	}
	return err
}
