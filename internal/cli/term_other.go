//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package cli

import (
	"context"
	"errors"
	"os"
)

// isTerminal reports false: on this system kcred cannot turn echo off, so
// it reads secrets as lines, as from a pipe.
func isTerminal(fd int) bool { return false }

func readNoEcho(ctx context.Context, f *os.File) (string, error) {
	return "", errors.New("reading without echo is not supported on this system")
}
