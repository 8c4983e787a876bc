package foreign

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratapg/strata/internal/pgquery"
)

// Result is what one sync did (or, with plan, would do).
type Result struct {
	Name    string   `json:"name"`
	Changes []Change `json:"changes"`
	// Setup lists changes to the extension, server, user mapping and types
	// (never with the password).
	Setup  []string `json:"setup,omitempty"`
	Tables int      `json:"tables"`
	// Changed is false when the target was already up to date.
	Changed bool `json:"changed"`
}

// prepared is everything sync reads before it changes anything.
type prepared struct {
	password     string
	remoteSchema string
	remote       *remote
	want         []Table
	skipped      []Change
	have         []Table
	changes      []Change
	setup        []string
	serverOpts   map[string]string
	// serverSQL, mappingRoles, typeSQL: the setup statements to run.
	serverSQL    []string
	mappingRoles []mappingChange
	typeSQL      []string
	migration    string
	extInstalled bool
	schemaExists bool
}

type mappingChange struct {
	role   string // SQL: CURRENT_USER, PUBLIC or a quoted role
	create bool
}

// Sync brings the declaration's target up to date; with plan it only
// reports what would change.
func Sync(ctx context.Context, d *Decl, o Options, plan bool) (*Result, error) {
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
	p, err := d.prepare(ctx, src, tgt, &o, plan)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: d.Name, Changes: append(append([]Change(nil), p.changes...), p.skipped...), Setup: p.setup, Tables: len(p.want)}
	if plan {
		res.Changed = len(p.changes) > 0 || len(p.setup) > 0
		return res, nil
	}
	if len(p.changes) == 0 && len(p.setup) == 0 && p.schemaExists {
		return res, nil
	}
	if err := d.swap(ctx, tgt, &o, p); err != nil {
		return nil, err
	}
	res.Changed = true
	r := o.runner()
	for _, t := range p.want {
		if err := r.Exec(ctx, tgt, "ANALYZE "+pgquery.Qual(d.Schema, t.Name)); err != nil {
			return nil, d.fail("analyze "+pgquery.Qual(d.Schema, t.Name)+" (the new foreign tables are in place)", err, "run strata foreign sync again", p.password)
		}
	}
	return res, nil
}

// prepare reads both databases, checks the remote role and works out what
// to change. With plan it changes nothing; otherwise it grants the remote
// role SELECT on the imported tables of the migrated database.
func (d *Decl) prepare(ctx context.Context, src, tgt *pgx.Conn, o *Options, plan bool) (*prepared, error) {
	p := &prepared{remoteSchema: d.remoteSchema(o)}
	var err error
	if p.password, err = d.password(o); err != nil {
		return nil, err
	}
	if p.remote, err = d.readRemote(ctx, src, o); err != nil {
		return nil, d.fail("read the remote schema "+pgquery.Ident(d.remoteSchema(o)), err, "")
	}
	if len(p.remote.tables) == 0 {
		return nil, d.fail("read the remote schema", fmt.Errorf("schema %q of the migrated database has no tables to import", d.remoteSchema(o)),
			"check remote_schema, tables and except (an empty import would empty the target schema, so strata refuses)")
	}
	if !plan {
		if err := d.grantRemote(ctx, src, o, p.remote.tables); err != nil {
			return nil, err
		}
	}
	if err := d.checkRole(ctx, o, p.password, p.remote.tables, nil); err != nil {
		return nil, err
	}
	p.migration = latestMigration(ctx, src, o)

	var avail, installed bool
	err = tgt.QueryRow(ctx, `SELECT count(*) > 0, count(installed_version) > 0 FROM pg_available_extensions WHERE name = 'postgres_fdw'`).Scan(&avail, &installed)
	if err != nil {
		return nil, d.fail("read the into database's extensions", err, "")
	}
	if !avail {
		return nil, d.fail("check the into database", errors.New("postgres_fdw is not available on its server"),
			"install the server's contrib modules (on Debian the postgresql-<major> package ships postgres_fdw), then run strata foreign sync again")
	}
	p.extInstalled = installed
	if !installed {
		p.setup = append(p.setup, "create extension postgres_fdw")
	}
	localExts, err := stringsOf(ctx, tgt, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
	if err != nil {
		return nil, d.fail("read the into database's extensions", err, "")
	}
	var common []string
	for _, e := range p.remote.extensions {
		// postgres_fdw itself ships nothing worth shipping, and counting it
		// would change the option once the loopback case installs it.
		if e != "postgres_fdw" && slices.Contains(localExts, e) {
			common = append(common, e)
		}
	}
	if p.serverOpts, err = d.serverOptions(o, common); err != nil {
		return nil, err
	}
	if err := d.planServer(ctx, tgt, p); err != nil {
		return nil, err
	}
	if err := d.planTypes(ctx, tgt, p); err != nil {
		return nil, err
	}
	if err := tgt.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", d.Schema).Scan(&p.schemaExists); err != nil {
		return nil, d.fail("read the into database", err, "")
	}
	if p.have, err = readLocal(ctx, tgt, d.Schema); err != nil {
		return nil, d.fail("read the foreign tables of "+pgquery.Ident(d.Schema), err, "")
	}
	p.changes = diff(p.have, p.want)
	dropped, err := droppedGrants(ctx, tgt, d.Schema, p.changes)
	if err != nil {
		return nil, d.fail("read the foreign tables' column grants", err, "")
	}
	p.changes = append(p.changes, dropped...)
	slices.SortStableFunc(p.changes, func(a, b Change) int { return strings.Compare(a.Table, b.Table) })
	return p, nil
}

// grantRemote grants the remote role USAGE on the remote schema and SELECT
// on the imported tables, as strata's own role on the migrated database.
func (d *Decl) grantRemote(ctx context.Context, src *pgx.Conn, o *Options, tables []Table) error {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = pgquery.Qual(d.remoteSchema(o), t.Name)
	}
	role := pgquery.Ident(d.User)
	err := o.runner().InTx(ctx, src, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "GRANT USAGE ON SCHEMA "+pgquery.Ident(d.remoteSchema(o))+" TO "+role); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "GRANT SELECT ON TABLE "+strings.Join(names, ", ")+" TO "+role)
		return err
	})
	if err != nil {
		return d.fail(fmt.Sprintf("grant the remote role %q SELECT on the imported tables", d.User), err,
			"create the remote role on the migrated database, or run strata as a role that owns the tables")
	}
	return nil
}

// RoleCheck is what the remote role can do on the migrated database.
type RoleCheck struct {
	Superuser bool     `json:"superuser"`
	BypassRLS bool     `json:"bypassrls"`
	Writable  []string `json:"writable,omitempty"` // "orders (INSERT, UPDATE)"
}

// ReadOnly reports whether the role can write nothing.
func (c *RoleCheck) ReadOnly() bool { return !c.Superuser && !c.BypassRLS && len(c.Writable) == 0 }

// checkRole connects to the migrated database as the remote role and checks
// what it can do. With read_only it fails on a role that can write; out,
// when not nil, receives the result.
func (d *Decl) checkRole(ctx context.Context, o *Options, password string, tables []Table, out *RoleCheck) error {
	u, err := d.roleURL(o, password)
	if err != nil {
		return d.fail("read strata's connection settings", errors.New(scrub(err.Error(), password)), "")
	}
	conn, err := connect(ctx, u)
	if err != nil {
		hint := "check the role's password"
		if d.PasswordEnv != "" {
			hint += " (in $" + d.PasswordEnv + ")"
		}
		hint += " and that the migrated database's pg_hba.conf lets it log in"
		return d.fail(fmt.Sprintf("log in to the migrated database as the remote role %q", d.User), err, hint, password)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var c RoleCheck
	if err := conn.QueryRow(ctx, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&c.Superuser, &c.BypassRLS); err != nil {
		return d.fail("check the remote role", err, "", password)
	}
	for _, t := range tables {
		var privs []string
		err := conn.QueryRow(ctx, `
SELECT coalesce(array_agg(p ORDER BY o), '{}') FROM unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) WITH ORDINALITY AS x(p, o)
 WHERE has_table_privilege(format('%I.%I', $1::text, $2::text), p)`, d.remoteSchema(o), t.Name).Scan(&privs)
		if err != nil {
			return d.fail("check the remote role's privileges", err, "", password)
		}
		if len(privs) > 0 {
			c.Writable = append(c.Writable, fmt.Sprintf("%s (%s)", t.Name, strings.Join(privs, ", ")))
		}
	}
	if out != nil {
		*out = c
	}
	if !d.ReadOnly || c.ReadOnly() {
		return nil
	}
	var why []string
	if c.Superuser {
		why = append(why, "it is a superuser")
	}
	if c.BypassRLS {
		why = append(why, "it has BYPASSRLS")
	}
	if len(c.Writable) > 0 {
		why = append(why, "it can write "+strings.Join(c.Writable, ", "))
	}
	return d.fail(fmt.Sprintf("the remote role %q is not read-only", d.User), errors.New(strings.Join(why, "; ")),
		fmt.Sprintf("use a role that can only read (REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA %s FROM %s; ALTER ROLE %s NOSUPERUSER NOBYPASSRLS), or set read_only = false",
			pgquery.Ident(d.remoteSchema(o)), pgquery.Ident(d.User), pgquery.Ident(d.User)))
}

// latestMigration is the migration the migrated database last completed,
// "" when strata has none recorded.
func latestMigration(ctx context.Context, src *pgx.Conn, o *Options) string {
	st := o.StateSchema
	if st == "" {
		st = "strata"
	}
	var name string
	err := pgx.BeginFunc(ctx, src, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgquery.Qual(st, "history")).Scan(&ok); err != nil || !ok {
			return err
		}
		return tx.QueryRow(ctx, "SELECT coalesce(max(name COLLATE \"C\"), '') FROM "+pgquery.Qual(st, "history")+" WHERE schema_name = $1",
			o.SourceSchema).Scan(&name)
	})
	if err != nil {
		return ""
	}
	return name
}

// planServer works out the server and user mapping statements.
func (d *Decl) planServer(ctx context.Context, tgt *pgx.Conn, p *prepared) error {
	var fdw string
	var opts []string
	err := tgt.QueryRow(ctx, `SELECT w.fdwname, coalesce(s.srvoptions, '{}') FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw WHERE s.srvname = $1`, d.Name).Scan(&fdw, &opts)
	srv := pgquery.Ident(d.Name)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		var parts []string
		for _, k := range sortedKeys(p.serverOpts) {
			parts = append(parts, pgquery.Ident(k)+" "+pgquery.Literal(p.serverOpts[k]))
		}
		p.serverSQL = append(p.serverSQL, "CREATE SERVER "+srv+" FOREIGN DATA WRAPPER postgres_fdw OPTIONS ("+strings.Join(parts, ", ")+")")
		p.setup = append(p.setup, fmt.Sprintf("create server %s (%s)", d.Name, optionList(p.serverOpts)))
	case err != nil:
		return d.fail("read the foreign server", err, "")
	case fdw != "postgres_fdw":
		return d.fail("check the foreign server", fmt.Errorf("server %q exists and uses the foreign-data wrapper %s", d.Name, fdw),
			"give the declaration another name, or drop that server")
	default:
		have := parseOptions(opts)
		var parts, desc []string
		for _, k := range sortedKeys(p.serverOpts) {
			v, ok := have[k]
			switch {
			case !ok:
				parts = append(parts, "ADD "+pgquery.Ident(k)+" "+pgquery.Literal(p.serverOpts[k]))
			case v != p.serverOpts[k]:
				parts = append(parts, "SET "+pgquery.Ident(k)+" "+pgquery.Literal(p.serverOpts[k]))
			default:
				continue
			}
			desc = append(desc, k+"="+p.serverOpts[k])
		}
		for _, k := range sortedKeys(have) {
			if _, ok := p.serverOpts[k]; !ok {
				parts = append(parts, "DROP "+pgquery.Ident(k))
				desc = append(desc, "drop "+k)
			}
		}
		if len(parts) > 0 {
			p.serverSQL = append(p.serverSQL, "ALTER SERVER "+srv+" OPTIONS ("+strings.Join(parts, ", ")+")")
			p.setup = append(p.setup, fmt.Sprintf("alter server %s (%s)", d.Name, strings.Join(desc, ", ")))
		}
	}
	for _, role := range d.mappingFor() {
		roleSQL := role
		switch strings.ToUpper(role) {
		case "CURRENT_USER", "PUBLIC", "SESSION_USER", "CURRENT_ROLE":
			roleSQL = strings.ToUpper(role)
		default:
			roleSQL = pgquery.Ident(role)
		}
		var mopts []string
		err := tgt.QueryRow(ctx, `
SELECT coalesce(m.umoptions, '{}') FROM pg_user_mappings m
 WHERE m.srvname = $1 AND m.umuser = CASE WHEN $2 = 'PUBLIC' THEN 0
       WHEN $2 IN ('CURRENT_USER', 'CURRENT_ROLE') THEN (SELECT oid FROM pg_roles WHERE rolname = current_user)
       WHEN $2 = 'SESSION_USER' THEN (SELECT oid FROM pg_roles WHERE rolname = session_user)
       ELSE (SELECT oid FROM pg_roles WHERE rolname = $3) END`, d.Name, strings.ToUpper(role), role).Scan(&mopts)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			p.mappingRoles = append(p.mappingRoles, mappingChange{role: roleSQL, create: true})
			p.setup = append(p.setup, fmt.Sprintf("create user mapping for %s (user %s)", role, d.User))
		case err != nil:
			return d.fail("read the user mapping for "+role, err, "")
		default:
			have := parseOptions(mopts)
			if have["user"] != d.User || have["password"] != p.password || len(have) != 1+btoi(p.password != "") {
				p.mappingRoles = append(p.mappingRoles, mappingChange{role: roleSQL})
				p.setup = append(p.setup, fmt.Sprintf("alter user mapping for %s (user %s, password from $%s)", role, d.User, d.PasswordEnv))
			}
		}
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func parseOptions(opts []string) map[string]string {
	m := map[string]string{}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		m[k] = v
	}
	return m
}

func optionList(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}
