package planner

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The Prober's answers are plain data: they survive a JSON round trip, so
// that a recorded Prober can replay them.
func TestProberDataIsJSON(t *testing.T) {
	def := "0"
	values := []any{
		&Catalog{Schema: "public", SchemaACL: []Grant{{Grantee: "", Privilege: "USAGE"}},
			Tables: map[string]*Table{"t": {OID: 1, Name: "t", Kind: "r", Key: []string{"id"},
				Columns: []*Column{{Name: "id", Type: "integer", NotNull: true, Default: &def, Num: 1}}}},
			Names: []string{"t"}, Schemas: map[string]bool{"public": true}, PGMajor: 16},
		&TypeOIDs{OID: 1, Array: 2}, &IndexInfo{Table: "t"}, &TypeDependent{Desc: "x"},
		&ColumnDependent{What: "x"}, &Dependent{Class: "pg_class", OID: 3, SubID: 1, DepType: "a"},
		&ColumnDefault{Num: 1}, &Rule{Self: true}, &IndexDef{Name: "i", Comment: &def},
		&ConstraintDef{Name: "c"}, &PolicyDef{Using: &def}, &StatisticsDef{Name: "s"},
		&SequenceDef{Increment: 1}, &ColumnAttrs{StatTarget: -1, Options: []string{"n_distinct=1"}, Collation: &def,
			Grants: []ColumnGrant{{Privilege: "SELECT", Grantable: true}}},
	}
	for _, v := range values {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := json.Unmarshal(raw, back); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if !reflect.DeepEqual(v, back) {
			t.Errorf("%T: round trip changed it: %+v", v, back)
		}
	}
}
