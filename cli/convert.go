package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/convert"
	"github.com/stratapg/strata/migration"
)

// convertCmd is `strata convert --from reshape|pgroll|sql FILE|DIR [--out DIR]`.
func (g *globals) convertCmd() *cobra.Command {
	var from, out string
	var force, strict bool
	cmd := &cobra.Command{
		Use:   "convert --from reshape|pgroll|sql FILE|DIR",
		Short: "Convert Reshape, pgroll or SQL migration files to strata files (to stdout, or into --out)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := convert.Source(from)
			if !slices.Contains(convert.Sources, src) {
				return usageError{fmt.Errorf("--from %q: want reshape, pgroll or sql", from)}
			}
			inputs, err := convertInputs(args[0], src)
			if err != nil {
				return err
			}
			if len(inputs) > 1 && out == "" {
				return usageError{fmt.Errorf("%s is a folder of %d files: give --out DIR", args[0], len(inputs))}
			}
			res, err := convert.Convert(src, inputs)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), w.String())
			}
			if out == "" {
				for _, f := range res.Files {
					if _, err := cmd.OutOrStdout().Write(f.Data); err != nil {
						return err
					}
				}
			} else if err := writeConverted(out, res.Files, force); err != nil {
				return err
			}
			if strict && len(res.Warnings) > 0 {
				return fmt.Errorf("conversion gave %d warning(s) with --strict\nhint: read the warnings above, or leave out --strict", len(res.Warnings))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "input format: reshape, pgroll or sql (required)")
	f.StringVar(&out, "out", "", "folder to write the converted files to (default: print a single file to stdout)")
	f.BoolVar(&force, "force", false, "overwrite files that already exist in --out")
	f.BoolVar(&strict, "strict", false, "exit 1 when any warning is printed")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}

// convertInputs reads FILE, or every file of DIR with an extension of the
// source format, in natural order, each at most migration.MaxFileSize.
func convertInputs(arg string, src convert.Source) ([]convert.Input, error) {
	exts := map[convert.Source][]string{
		convert.Reshape: {".toml"},
		convert.Pgroll:  {".json", ".yaml", ".yml"},
		convert.SQL:     {".sql"},
	}[src]
	info, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	var names []string
	if info.IsDir() {
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || strings.HasPrefix(n, ".") || !slices.Contains(exts, strings.ToLower(filepath.Ext(n))) {
				continue
			}
			names = append(names, filepath.Join(arg, n))
		}
		slices.SortFunc(names, func(a, b string) int {
			if migration.NaturalLess(a, b) {
				return -1
			}
			if a == b {
				return 0
			}
			return 1
		})
		if len(names) == 0 {
			return nil, fmt.Errorf("%s has no %s files", arg, strings.Join(exts, ", "))
		}
		// pgroll keeps a folder's order in .ledger: the converter honours it.
		if ledger := filepath.Join(arg, convert.LedgerName); src == convert.Pgroll {
			if st, err := os.Stat(ledger); err == nil && st.Mode().IsRegular() {
				names = append(names, ledger)
			}
		}
	} else {
		names = []string{arg}
	}
	inputs := make([]convert.Input, 0, len(names))
	for _, n := range names {
		data, err := migration.ReadFile(n)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, convert.Input{Name: n, Data: data})
	}
	return inputs, nil
}

// writeConverted writes files into dir, refusing to overwrite without force;
// nothing is written when any target exists.
func writeConverted(dir string, files []convert.File, force bool) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if !force {
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f.Name)); err == nil {
				return fmt.Errorf("%s already exists\nhint: remove it or pass --force", filepath.Join(dir, f.Name))
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o666); err != nil {
			return err
		}
	}
	return nil
}
