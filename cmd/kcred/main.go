// Command kcred manages the mTLS client certificates of Kafka service users:
// `kcred server` runs the service; the other commands are its clients.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "kcred",
		Short:         "Manage the mTLS client certificates of Kafka service users",
		Long:          "kcred issues, renews and hands out the mTLS client certificates of Kafka service users,\nwith an Aiven-compatible API, a CLI and a web console.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServerCmd())
	root.AddCommand(newDemoCmd())
	cli.AddCommands(root)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "kcred:", err)
		var ue usageError
		if errors.As(err, &ue) || cli.IsUsageError(err) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in how a command was called; it exits 2.
type usageError struct{ error }

// noArgs is cobra.NoArgs as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}
