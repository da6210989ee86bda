// Package agent keeps a Kafka client's credential files current. It polls
// kcred for a service user; when the served certificate differs from the
// one on disk it writes the new files atomically, runs a hook so the client
// picks them up, can prove the new certificate on a real Kafka connection,
// and only then acknowledges the renewal.
package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kcred/kcred/internal/credfiles"
	"github.com/kcred/kcred/internal/httpapi"
	"github.com/kcred/kcred/internal/pki"
)

// API is the part of kcred's API the agent uses; *httpapi.Client has it.
type API interface {
	GetService(ctx context.Context, project, service string, secrets bool) (*httpapi.Service, error)
	GetServiceUser(ctx context.Context, project, service, username string, secrets bool) (*httpapi.User, error)
	ProjectCA(ctx context.Context, project string) (string, error)
	AcknowledgeRenewal(ctx context.Context, project, service, username string) (*httpapi.Service, error)
}

// Config is what an Agent runs with.
type Config struct {
	API                        API
	Project, Service, Username string
	Dir                        string        // where the files live; made 0700 when missing
	Interval                   time.Duration // between polls; DefaultInterval when zero

	// JavaPassword, when set, also keeps client.keystore.p12,
	// client.truststore.jks and client.properties, with this password.
	JavaPassword string
	// Exec is a shell command run after new files were written, so the
	// client restarts or reloads; see Hook for its environment.
	Exec string
	// Verify makes a Kafka connection to the service's service_uri with
	// the new certificate before anything is acknowledged.
	Verify bool
	// Acknowledge acknowledges a pending renewal once the files are
	// written, the hook ran and the certificate was verified. It needs
	// Verify: an unproven certificate is never acknowledged.
	Acknowledge bool

	Logger *slog.Logger
	// VerifyTimeout bounds one verification; DefaultVerifyTimeout when zero.
	VerifyTimeout time.Duration
	// HookTimeout bounds one run of Exec; DefaultHookTimeout when zero.
	HookTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultInterval      = time.Minute
	DefaultVerifyTimeout = 30 * time.Second
	DefaultHookTimeout   = 5 * time.Minute
)

// Agent keeps one service user's files current. Make it with New.
type Agent struct {
	cfg Config
	log *slog.Logger

	// hookDue is the serial whose hook has not yet succeeded: files were
	// written but the client may not have picked them up.
	hookDue string
	// verified is the serial last proven on the broker.
	verified string
}

// New checks cfg and returns an Agent.
func New(cfg Config) (*Agent, error) {
	switch {
	case cfg.API == nil:
		return nil, errors.New("agent: no API client")
	case cfg.Project == "" || cfg.Service == "" || cfg.Username == "":
		return nil, errors.New("agent: project, service and username are required")
	case cfg.Dir == "":
		return nil, errors.New("agent: a directory for the files is required")
	case cfg.Acknowledge && !cfg.Verify:
		return nil, errors.New("agent: acknowledging needs verification: the agent acknowledges only a certificate proven on the broker")
	case cfg.JavaPassword != "" && len(cfg.JavaPassword) < 6:
		return nil, errors.New("agent: the Java store password must be at least 6 characters")
	case cfg.Interval < 0:
		return nil, errors.New("agent: the interval must be positive")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = DefaultVerifyTimeout
	}
	if cfg.HookTimeout == 0 {
		cfg.HookTimeout = DefaultHookTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = abs
	log := cfg.Logger.With("project", cfg.Project, "service", cfg.Service, "user", cfg.Username)
	return &Agent{cfg: cfg, log: log}, nil
}

// Result is what one Check did.
type Result struct {
	Serial       string // the certificate on disk afterwards
	Wrote        bool   // new files were written
	HookRan      bool   // Exec ran and succeeded
	Verified     bool   // the certificate connected to the broker in this check
	Acknowledged bool   // a pending renewal was acknowledged
	Pending      bool   // a renewal still waits for acknowledgement
}

// Check polls once: it fetches the user, writes new files when the served
// certificate is not the one on disk, runs the hook, verifies and
// acknowledges as configured. An error leaves nothing acknowledged that
// was not verified; the next Check picks up where this one stopped.
func (a *Agent) Check(ctx context.Context) (Result, error) {
	var res Result
	svc, err := a.cfg.API.GetService(ctx, a.cfg.Project, a.cfg.Service, false)
	if err != nil {
		return res, fmt.Errorf("read service: %w", err)
	}
	u := svc.FindUser(a.cfg.Username)
	if u == nil {
		return res, fmt.Errorf("service %s has no user %q", a.cfg.Service, a.cfg.Username)
	}
	served, err := pki.ParseCertificate(u.AccessCert)
	if err != nil {
		return res, fmt.Errorf("the served certificate cannot be read: %w", err)
	}
	servedSerial := served.SerialNumber.Text(16)
	res.Serial = servedSerial
	res.Pending = u.ExpiringCertNotValidAfterTime != nil

	onDisk, _ := os.ReadFile(filepath.Join(a.cfg.Dir, "service.cert"))
	if !bytes.Equal(bytes.TrimSpace(onDisk), bytes.TrimSpace([]byte(u.AccessCert))) || !a.javaPresent() {
		if err := a.write(ctx, svc.ServiceURI); err != nil {
			return res, err
		}
		res.Wrote = true
	}
	// Read back what is on disk: the certificate may have changed between
	// the two reads above, and the agent vouches only for what it wrote.
	f, err := a.files()
	if err != nil {
		return res, err
	}
	res.Serial = f.serial
	if res.Wrote {
		a.hookDue = f.serial
		a.log.Info("wrote new credentials", "serial", f.serial, "not_after", f.notAfter.UTC(), "dir", a.cfg.Dir)
	}

	if a.hookDue == f.serial && a.cfg.Exec != "" {
		if err := a.runHook(ctx, f); err != nil {
			return res, fmt.Errorf("hook: %w", err)
		}
		res.HookRan = true
		a.log.Info("hook ran", "serial", f.serial)
	}
	a.hookDue = ""

	// With Acknowledge a pending renewal is verified afresh right before
	// it is acknowledged; otherwise once per certificate.
	if a.cfg.Verify && (a.verified != f.serial || (res.Pending && a.cfg.Acknowledge)) {
		if err := a.verify(ctx, svc.ServiceURI, f); err != nil {
			a.verified = ""
			return res, fmt.Errorf("verify certificate %s on %s: %w", f.serial, svc.ServiceURI, err)
		}
		a.verified, res.Verified = f.serial, true
		a.log.Info("verified certificate on the broker", "serial", f.serial, "service_uri", svc.ServiceURI)
	}

	if a.cfg.Acknowledge && res.Pending {
		if a.verified != f.serial || f.serial != servedSerial {
			return res, fmt.Errorf("certificate %s is not verified; not acknowledging", f.serial)
		}
		// The server acknowledges the user's open renewal, whatever its
		// certificate; check again that it is still the one proven here.
		again, err := a.cfg.API.GetServiceUser(ctx, a.cfg.Project, a.cfg.Service, a.cfg.Username, false)
		if err != nil {
			return res, fmt.Errorf("read user: %w", err)
		}
		if c, err := pki.ParseCertificate(again.AccessCert); err != nil || c.SerialNumber.Text(16) != f.serial {
			return res, errors.New("the served certificate changed during the check; not acknowledging")
		}
		if _, err := a.cfg.API.AcknowledgeRenewal(ctx, a.cfg.Project, a.cfg.Service, a.cfg.Username); err != nil {
			return res, fmt.Errorf("acknowledge renewal: %w", err)
		}
		res.Acknowledged, res.Pending = true, false
		a.log.Info("acknowledged renewal", "serial", f.serial)
	}
	return res, nil
}

// Run checks every Interval until ctx ends. A failed check is logged and
// retried sooner, backing off from 5 s up to the interval.
func (a *Agent) Run(ctx context.Context) error {
	failures := 0
	for {
		res, err := a.Check(ctx)
		wait := a.cfg.Interval
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			wait = backoff(failures, a.cfg.Interval)
			a.log.Error("check failed", "err", err, "attempt", failures, "retry_in", wait)
		} else {
			failures = 0
			if res.Pending && !a.cfg.Acknowledge {
				a.log.Info("a renewal waits for acknowledgement", "serial", res.Serial)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// backoff is the wait after the n-th failure in a row: 5 s, doubling, at
// most the poll interval (and never more than an hour).
func backoff(n int, interval time.Duration) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, max(interval, 5*time.Second), time.Hour)
}

// javaPresent reports whether the Java stores exist when they are asked
// for, so that turning on JavaPassword later writes them.
func (a *Agent) javaPresent() bool {
	if a.cfg.JavaPassword == "" {
		return true
	}
	_, err := os.Stat(filepath.Join(a.cfg.Dir, "client.keystore.p12"))
	return err == nil
}

// write fetches the user's credentials with the key (an audit event on the
// server) and writes all files.
func (a *Agent) write(ctx context.Context, serviceURI string) error {
	u, err := a.cfg.API.GetServiceUser(ctx, a.cfg.Project, a.cfg.Service, a.cfg.Username, true)
	if err != nil {
		return fmt.Errorf("read credentials: %w", err)
	}
	if u.AccessKey == nil {
		return errors.New("the server sent no key: the token needs the developer role or above")
	}
	ca, err := a.cfg.API.ProjectCA(ctx, a.cfg.Project)
	if err != nil {
		return fmt.Errorf("read project CA: %w", err)
	}
	files := credfiles.PEM(ca, u.AccessCert, *u.AccessKey)
	if a.cfg.JavaPassword != "" {
		java, err := credfiles.Java(ca, u.AccessCert, *u.AccessKey, a.cfg.JavaPassword, serviceURI, a.cfg.Dir,
			fmt.Sprintf("service user %s of service %s in project %s", a.cfg.Username, a.cfg.Service, a.cfg.Project))
		if err != nil {
			return err
		}
		// The PEM files go last: service.cert is what the agent compares,
		// so it changes only once everything else is in place.
		files = append(java, files...)
	}
	if err := os.MkdirAll(a.cfg.Dir, 0o700); err != nil {
		return err
	}
	return credfiles.Write(a.cfg.Dir, files)
}

// onDisk are the credential files as written.
type onDisk struct {
	ca, cert, key string // paths
	serial        string
	notAfter      time.Time
}

func (a *Agent) files() (onDisk, error) {
	f := onDisk{
		ca:   filepath.Join(a.cfg.Dir, "ca.pem"),
		cert: filepath.Join(a.cfg.Dir, "service.cert"),
		key:  filepath.Join(a.cfg.Dir, "service.key"),
	}
	b, err := os.ReadFile(f.cert)
	if err != nil {
		return f, err
	}
	c, err := pki.ParseCertificate(string(b))
	if err != nil {
		return f, fmt.Errorf("%s: %w", f.cert, err)
	}
	f.serial, f.notAfter = c.SerialNumber.Text(16), c.NotAfter
	return f, nil
}
