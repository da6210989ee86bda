//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package cli

import (
	"context"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	return err == nil
}

// readNoEcho reads a line from the terminal f with echo turned off, and
// turns it back on when done, also when ctx ends first (Ctrl-C).
func readNoEcho(ctx context.Context, f *os.File) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return "", err
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	noEcho.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &noEcho); err != nil {
		return "", err
	}
	restore := sync.OnceFunc(func() { unix.IoctlSetTermios(fd, ioctlSetTermios, old) })
	defer restore()

	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := readLine(f)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-ctx.Done():
		restore()
		return "", ctx.Err()
	}
}
