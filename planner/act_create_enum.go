package planner

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/stratapg/strata/migration"
	"github.com/stratapg/strata/plan"
)

// createEnum creates an enum type at start, before the actions after it
// use it (a column of the type through the version views works like any
// other). Complete has nothing to do; abort drops it, after the tables and
// columns that use it. The type is also created inside the planning
// transaction (which is rolled back), so that later actions of the phase
// are checked against it.
func (p *planner) createEnum(ctx context.Context, a *migration.CreateEnum) error {
	if e := p.objs.enums[a.Name]; e != nil && !e.Removed {
		return p.errf(".name", "type %q already exists in schema %q", a.Name, p.schema)
	}
	exists, err := p.pr.TypeExists(ctx, p.schema, a.Name)
	if err != nil {
		return err
	}
	if exists {
		return p.errf(".name", "a type named %q already exists in schema %q (tables have a type of their name too)", a.Name, p.schema)
	}
	var labels []string
	for _, v := range a.Values {
		labels = append(labels, literal(v))
	}
	sql := "CREATE TYPE " + qual(p.schema, a.Name) + " AS ENUM (" + strings.Join(labels, ", ") + ")"
	if err := p.pr.Apply(ctx, sql); err != nil {
		return p.errf(".name", "create enum %q: %s", a.Name, pgMessage(err))
	}
	p.objs.enums[a.Name] = &enumType{Name: a.Name, Labels: append([]string(nil), a.Values...), Created: true}
	p.objs.created = append(p.objs.created, a.Name)
	p.expand = append(p.expand, plan.Step{
		ID: "create-enum:" + a.Name, Kind: plan.KindSQL, Tx: true,
		Desc: "create enum type " + a.Name,
		SQL:  []string{sql},
	})
	return nil
}

// enum finds an enum type of the managed schema: as this phase left it, or
// as the catalog has it.
func (p *planner) enum(ctx context.Context, key, name string) (*enumType, error) {
	if e := p.objs.enums[name]; e != nil {
		if e.Removed {
			return nil, p.errf(key, "enum %q is removed earlier in this phase", name)
		}
		return e, nil
	}
	labels, err := p.pr.EnumLabels(ctx, p.schema, name)
	if err != nil {
		return nil, fmt.Errorf("read enum %s: %w", name, err)
	}
	if labels == nil {
		return nil, p.errf(key, "enum type %q does not exist in schema %q", name, p.schema)
	}
	e := &enumType{Name: name, Labels: labels}
	p.objs.enums[name] = e
	return e, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
