package foreign

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgquery"
)

// Report is the status of one declaration.
type Report struct {
	Name          string            `json:"name"`
	Into          string            `json:"into"`
	Schema        string            `json:"schema"`
	RemoteSchema  string            `json:"remote_schema"`
	ServerOptions map[string]string `json:"server_options"`
	LastSync      *LastSync         `json:"last_sync"`
	RemoteVersion string            `json:"remote_version"`
	// Role is what the remote role can do; RoleError why it could not be
	// checked.
	Role      *RoleCheck `json:"role,omitempty"`
	RoleError string     `json:"role_error,omitempty"`
	Drift     []Change   `json:"drift"`
	// Breaking counts the drift that is not an addition.
	Breaking int `json:"breaking"`
}

// LastSync is the target's record of the last sync that changed it.
type LastSync struct {
	At            time.Time `json:"at"`
	StrataVersion string    `json:"strata_version"`
	Migration     string    `json:"migration"`
	Tables        int       `json:"tables"`
}

// Status reads the declaration's server, last sync, remote role and drift;
// it changes nothing.
func Status(ctx context.Context, d *Decl, o Options) (*Report, error) {
	rep := &Report{Name: d.Name, Into: MaskURL(d.Into), Schema: d.Schema, RemoteSchema: d.remoteSchema(&o), Drift: []Change{}}
	src, err := connect(ctx, o.SourceURL)
	if err != nil {
		return nil, d.fail("connect to the migrated database", err, "check --url / DATABASE_URL")
	}
	defer src.Close(context.WithoutCancel(ctx))
	tgt, err := connect(ctx, d.Into)
	if err != nil {
		return nil, d.fail("connect to the into database", err, "check the declaration's into URL")
	}
	defer tgt.Close(context.WithoutCancel(ctx))
	rem, err := d.readRemote(ctx, src, &o)
	if err != nil {
		return nil, d.fail("read the remote schema", err, "")
	}
	rep.RemoteVersion = rem.version
	var opts []string
	err = tgt.QueryRow(ctx, "SELECT coalesce(srvoptions, '{}') FROM pg_foreign_server WHERE srvname = $1", d.Name).Scan(&opts)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, d.fail("read the foreign server", err, "")
	}
	rep.ServerOptions = parseOptions(opts)
	st := o.StateSchema
	if st == "" {
		st = "strata"
	}
	var ok bool
	if err := tgt.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgquery.Qual(st, "foreign_sync")).Scan(&ok); err != nil {
		return nil, d.fail("read the last sync", err, "")
	}
	if ok {
		var ls LastSync
		err := tgt.QueryRow(ctx, "SELECT synced_at, strata_version, migration, tables FROM "+pgquery.Qual(st, "foreign_sync")+" WHERE name = $1", d.Name).
			Scan(&ls.At, &ls.StrataVersion, &ls.Migration, &ls.Tables)
		if err == nil {
			rep.LastSync = &ls
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, d.fail("read the last sync", err, "")
		}
	}
	if pw, err := d.password(&o); err != nil {
		rep.RoleError = err.Error()
	} else {
		var rc RoleCheck
		ro := *d
		ro.ReadOnly = false
		if err := ro.checkRole(ctx, &o, pw, rem.tables, &rc); err != nil {
			rep.RoleError = err.Error()
		} else {
			rep.Role = &rc
		}
	}
	have, err := readLocal(ctx, tgt, d.Schema)
	if err != nil {
		return nil, d.fail("read the foreign tables", err, "")
	}
	rep.Drift = append(rep.Drift, diff(have, rem.tables)...)
	for _, c := range rep.Drift {
		if c.Severity == "breaking" {
			rep.Breaking++
		}
	}
	return rep, nil
}
