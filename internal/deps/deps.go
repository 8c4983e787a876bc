package deps
import (
 _ "github.com/jackc/pgx/v5"
 _ "github.com/spf13/cobra"
 _ "github.com/BurntSushi/toml"
 _ "github.com/google/go-cmp/cmp"
 _ "github.com/pganalyze/pg_query_go/v6"
 _ "golang.org/x/term"
 _ "github.com/rogpeppe/go-internal/testscript"
)
