package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runHook runs Exec with sh -c after new files were written. Its
// environment is the agent's plus:
//
//	KCRED_PROJECT, KCRED_SERVICE, KCRED_USERNAME
//	KCRED_SERIAL        serial of the new certificate (lowercase hex)
//	KCRED_NOT_AFTER     its expiry, RFC 3339 UTC
//	KCRED_DIR           the directory of the files
//	KCRED_CA_FILE, KCRED_CERT_FILE, KCRED_KEY_FILE
//	KCRED_KEYSTORE_FILE, KCRED_TRUSTSTORE_FILE, KCRED_PROPERTIES_FILE
//	                    with the Java stores
//
// A non-zero exit or a run longer than HookTimeout is an error, and the hook
// runs again at the next check.
func (a *Agent) runHook(ctx context.Context, f onDisk) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.HookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", a.cfg.Exec)
	cmd.Dir = a.cfg.Dir
	cmd.Env = append(os.Environ(),
		"KCRED_PROJECT="+a.cfg.Project,
		"KCRED_SERVICE="+a.cfg.Service,
		"KCRED_USERNAME="+a.cfg.Username,
		"KCRED_SERIAL="+f.serial,
		"KCRED_NOT_AFTER="+f.notAfter.UTC().Format(time.RFC3339),
		"KCRED_DIR="+a.cfg.Dir,
		"KCRED_CA_FILE="+f.ca,
		"KCRED_CERT_FILE="+f.cert,
		"KCRED_KEY_FILE="+f.key,
	)
	if a.cfg.JavaPassword != "" {
		cmd.Env = append(cmd.Env,
			"KCRED_KEYSTORE_FILE="+filepath.Join(a.cfg.Dir, "client.keystore.p12"),
			"KCRED_TRUSTSTORE_FILE="+filepath.Join(a.cfg.Dir, "client.truststore.jks"),
			"KCRED_PROPERTIES_FILE="+filepath.Join(a.cfg.Dir, "client.properties"),
		)
	}
	// A hook that forks a daemon keeping the pipes open must not hang the
	// agent: give up on its output shortly after it exits.
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if s := strings.TrimSpace(out.String()); s != "" {
		a.log.Info("hook output", "output", clipOutput(s))
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%q did not finish within %s", a.cfg.Exec, a.cfg.HookTimeout)
	}
	if err != nil {
		return fmt.Errorf("%q: %w", a.cfg.Exec, err)
	}
	return nil
}

// clipOutput keeps the log line of a chatty hook short.
func clipOutput(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}
