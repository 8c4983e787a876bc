// Command embed shows strata's library API: migrations compiled into the
// program with embed.FS, applied with an engine.Migrator.
//
//	DATABASE_URL=postgres://... go run ./examples/embed            # start, then complete
//	DATABASE_URL=postgres://... go run ./examples/embed -phase start
//	DATABASE_URL=postgres://... go run ./examples/embed -phase complete
//
// -phase is one of migrate (default), start, complete, abort, status, plan.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/stratapg/strata/engine"
)

// The migration files travel inside the binary.
//
//go:embed migrations/*.toml
var migrationFiles embed.FS

func main() {
	phase := flag.String("phase", "migrate", "migrate, start, complete, abort, status or plan")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *phase); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, phase string) error {
	// An empty connection string means the libpq PG* variables.
	m, err := engine.New(os.Getenv("DATABASE_URL"), engine.Options{
		Schema: "public", // the managed schema (the default)
		Logf:   log.Printf,
	})
	if err != nil {
		return err
	}
	// Load decodes and validates every file: a bad one is an error naming
	// file, line and key, before anything touches the database.
	migs, err := m.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}

	switch phase {
	case "migrate": // start and complete in one go
		res, err := m.Migrate(ctx, migs)
		if errors.Is(err, engine.ErrNothingPending) {
			fmt.Println("up to date")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Printf("migrated %v; version schema %s\n", res.Migrations, res.VersionSchema)
	case "start": // expand: old and new app versions both work afterwards
		res, err := m.Start(ctx, migs)
		if errors.Is(err, engine.ErrNothingPending) {
			fmt.Println("up to date")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Printf("started %v; point the new app at: options=-c search_path=%s,public\n", res.Migrations, res.VersionSchema)
	case "complete": // contract, once no old app instance is left
		names, err := m.Complete(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("completed %v\n", names)
	case "abort": // roll back to the state before start
		names, err := m.Abort(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("aborted %v\n", names)
	case "status":
		st, err := m.Status(ctx, migs)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	case "plan": // every statement, with its lock; changes nothing
		plan, err := m.Plan(ctx, migs)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	default:
		return fmt.Errorf("unknown phase %q", phase)
	}
	return nil
}
