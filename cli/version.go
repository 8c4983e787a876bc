package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/stratapg/strata/engine"
)

// buildVersion is the version strata reports: the stamped engine.Version of a
// release build, else the module version `go install ...@vX` recorded, else
// the development version with the VCS revision when known.
func buildVersion() string {
	v := engine.Version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if v == "0.1.0-dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if v == "0.1.0-dev" && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return v + "+" + rev + dirty
	}
	return v
}

func (g *globals) versionCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print strata's version, the Go version and platform it was built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out.JSON() {
				return g.writeJSON(struct {
					Version   string `json:"version"`
					GoVersion string `json:"go_version"`
					OS        string `json:"os"`
					Arch      string `json:"arch"`
				}{buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH})
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "strata %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
	out = addFormatFlag(cmd)
	return cmd
}
