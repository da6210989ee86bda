package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretLine bounds a password or token read from standard input.
const maxSecretLine = 4096

// readSecret reads a password or token. From a terminal it prints prompt
// on errw and reads without echo; from anything else (a pipe, a file) it
// reads one line, so scripts and tests can pipe it in. The line end is
// dropped; an empty secret is an error.
func readSecret(ctx context.Context, in io.Reader, errw io.Writer, prompt, what string) (string, error) {
	var (
		s   string
		err error
	)
	if f, ok := in.(*os.File); ok && isTerminal(int(f.Fd())) {
		fmt.Fprint(errw, prompt)
		s, err = readNoEcho(ctx, f)
		fmt.Fprintln(errw)
	} else {
		s, err = readLine(in)
	}
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("no %s on standard input", what)
		}
		return "", fmt.Errorf("cannot read the %s: %v", what, err)
	}
	if s == "" {
		return "", fmt.Errorf("the %s is empty", what)
	}
	return s, nil
}

// readLine reads up to the end of the line a byte at a time, so that
// nothing after it is consumed, and drops the line end.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSuffix(b.String(), "\r"), nil
			}
			if b.Len() >= maxSecretLine {
				return "", fmt.Errorf("longer than %d bytes", maxSecretLine)
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return strings.TrimSuffix(b.String(), "\r"), err
		}
	}
}
