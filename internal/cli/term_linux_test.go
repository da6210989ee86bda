package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: what a program reads from tty is
// what is written to master, and what the terminal echoes can be read from
// master.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	// Not m.Fd(): that would make master blocking, and its read deadline
	// below would not work.
	var n int
	rc, err := m.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
				n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
			}
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		m.Close()
		t.Skipf("unlockpt or ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// TestReadSecretTerminal types a password into a real pseudo-terminal and
// checks that it was not echoed and that echo is on again afterwards.
func TestReadSecretTerminal(t *testing.T) {
	master, tty := openPTY(t)
	if !isTerminal(int(tty.Fd())) {
		t.Fatal("isTerminal is false for a pseudo-terminal")
	}

	var prompt bytes.Buffer
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := readSecret(context.Background(), tty, &prompt, "Password: ", "password")
		done <- result{s, err}
	}()
	// Wait until echo is off before typing, as a person would after the
	// prompt.
	deadline := time.Now().Add(5 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
		if err == nil && tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("echo was not turned off")
		}
		time.Sleep(10 * time.Millisecond)
	}
	master.Write([]byte("typed-s3cret\n"))
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("readSecret did not return")
	}
	if r.err != nil || r.s != "typed-s3cret" {
		t.Fatalf("readSecret = %q, %v", r.s, r.err)
	}
	if !strings.HasPrefix(prompt.String(), "Password: ") {
		t.Errorf("prompt = %q", prompt.String())
	}

	// What the terminal showed: no password.
	master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	shown, _ := io.ReadAll(master)
	if bytes.Contains(shown, []byte("typed-s3cret")) {
		t.Errorf("the terminal echoed the password: %q", shown)
	}
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("echo is still off after reading (%v)", err)
	}
}

// TestReadSecretTerminalCancel ends the context while waiting for the
// password, as Ctrl-C does, and checks that echo is restored.
func TestReadSecretTerminalCancel(t *testing.T) {
	master, tty := openPTY(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := readSecret(ctx, tty, io.Discard, "Password: ", "password")
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("no error after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("readSecret did not return after cancel")
	}
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), ioctlGetTermios)
	if err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("echo is off after cancel (%v)", err)
	}
	// The abandoned read still waits for a line (kcred exits instead);
	// give it one so that closing the terminal does not wait for it.
	master.Write([]byte("\n"))
}
