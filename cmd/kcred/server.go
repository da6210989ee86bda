package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/console"
	"github.com/kcred/kcred/internal/httpapi"
	"github.com/kcred/kcred/internal/jobs"
	"github.com/kcred/kcred/internal/lifecycle"
	"github.com/kcred/kcred/internal/metrics"
	"github.com/kcred/kcred/internal/notify"
	"github.com/kcred/kcred/internal/pki"
	"github.com/kcred/kcred/internal/postgres"
	"github.com/kcred/kcred/internal/sqlite"
)

// serverConfig is what `kcred server` is run with.
type serverConfig struct {
	Listen         string
	Data           string
	DatabaseURL    string
	MasterKeyFile  string
	TLSCert        string
	TLSKey         string
	PublicURL      string
	SMTPURL        string
	MailFrom       string
	SweepInterval  string
	CertValidity   string
	RenewBefore    string
	Reminders      string
	KeyType        string
	LogLevel       string
	AdminEmail     string
	AdminPassword  string
	BootstrapToken string

	// Listener, when set, is served instead of a new listener on Listen:
	// the demo binds it first so that it knows the server's address, for
	// the links in notifications, before the server starts.
	Listener net.Listener
	// OnListen, when set, is called with the server's base URL once it
	// accepts requests; the demo sets up its project from there.
	OnListen func(url string)
}

func newServerCmd() *cobra.Command {
	var c serverConfig
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the kcred service: API, console and renewals",
		Long: `Run the kcred service.

By default it keeps everything in SQLite under --data, with the master key in
<data>/master.key, so nothing else is needed. With --database-url several
replicas share one PostgreSQL; give them all the same master key.

Every flag can also be set as KCRED_<NAME> in the environment (--cert-validity
is KCRED_CERT_VALIDITY). On the first start the superuser is made:
KCRED_ADMIN_EMAIL (default admin@kcred.local), KCRED_ADMIN_PASSWORD for console
login, and KCRED_BOOTSTRAP_TOKEN as its API token, or a random token printed
once and written to <data>/admin-token.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := envDefaults(cmd.Flags()); err != nil {
				return usageError{err}
			}
			c.AdminEmail = envOr("KCRED_ADMIN_EMAIL", "admin@kcred.local")
			c.AdminPassword = os.Getenv("KCRED_ADMIN_PASSWORD")
			c.BootstrapToken = os.Getenv("KCRED_BOOTSTRAP_TOKEN")
			return runServer(cmd.Context(), c, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to serve the API and console on")
	f.StringVar(&c.Data, "data", "./kcred-data", "directory for the SQLite database, master key and admin token")
	f.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://...); SQLite under --data when empty")
	f.StringVar(&c.MasterKeyFile, "master-key-file", "", "file with the 32-byte master key, base64 (default <data>/master.key; or KCRED_MASTER_KEY)")
	f.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate for HTTPS")
	f.StringVar(&c.TLSKey, "tls-key", "", "PEM private key for HTTPS")
	f.StringVar(&c.CertValidity, "cert-validity", "820d", "validity of new certificates (Go durations plus d for days)")
	f.StringVar(&c.RenewBefore, "renew-before", "90d", "renew a certificate this long before it expires")
	f.StringVar(&c.Reminders, "reminder-schedule", "60d,30d,14d,7d,3d,1d", "remind at these offsets before the old certificate expires")
	f.StringVar(&c.KeyType, "key-type", "ec-p256", "key type of new certificates: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096")
	f.StringVar(&c.PublicURL, "public-url", "", "where people reach kcred, for console links in notifications (https://kcred.example.com)")
	f.StringVar(&c.SMTPURL, "smtp-url", "", "SMTP server for notifications: smtp://user:pass@host:port?tls=starttls|tls|none (none configured: emails are recorded as undelivered)")
	f.StringVar(&c.MailFrom, "mail-from", "", "sender address of notification emails")
	f.StringVar(&c.SweepInterval, "sweep-interval", "1m", "how often to look for certificates to renew, reminders to send and renewals to close")
	f.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// envDefaults sets each flag not given on the command line from
// KCRED_<NAME> when that is set.
func envDefaults(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		name := "KCRED_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && !f.Changed && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (c serverConfig) policy() (kcred.CertPolicy, error) {
	var p kcred.CertPolicy
	var err error
	if p.Validity, err = kcred.ParseDuration(c.CertValidity); err != nil {
		return p, fmt.Errorf("--cert-validity: %s", kcred.ErrorMessage(err))
	}
	if p.RenewBefore, err = kcred.ParseDuration(c.RenewBefore); err != nil {
		return p, fmt.Errorf("--renew-before: %s", kcred.ErrorMessage(err))
	}
	if p.Reminders, err = kcred.ParseDurations(c.Reminders); err != nil {
		return p, fmt.Errorf("--reminder-schedule: %s", kcred.ErrorMessage(err))
	}
	if p.Reminders == nil {
		p.Reminders = []time.Duration{}
	}
	p.KeyType = kcred.KeyType(c.KeyType)
	if err := p.Validate(); err != nil {
		return p, errors.New(kcred.ErrorMessage(err))
	}
	if p.RenewBefore == 0 {
		return p, errors.New("--renew-before must be positive")
	}
	return p, nil
}

func runServer(ctx context.Context, c serverConfig, stderr interface{ Write([]byte) (int, error) }) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	policy, err := c.policy()
	if err != nil {
		return usageError{err}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return err
	}
	masterKey, err := loadMasterKey(c, log)
	if err != nil {
		return err
	}
	sealer, err := pki.NewSealer(masterKey)
	if err != nil {
		return err
	}

	var store kcred.Store
	soleProcess := false // no other process can use the database
	if c.DatabaseURL != "" {
		store, err = postgres.Open(ctx, c.DatabaseURL)
		log.Info("storage", "engine", "postgresql")
	} else {
		var lock *os.File
		if lock, soleProcess, err = lockData(c.Data); err != nil {
			return err
		}
		if lock != nil {
			defer lock.Close()
		}
		path := filepath.Join(c.Data, "kcred.db")
		store, err = sqlite.Open(ctx, path)
		log.Info("storage", "engine", "sqlite", "path", path)
	}
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer store.Close()

	sweepEvery, err := kcred.ParseDuration(c.SweepInterval)
	if err != nil || sweepEvery < time.Second {
		return usageError{errors.New("--sweep-interval: use a duration of at least 1s, like 1m")}
	}
	var mailer lifecycle.Mailer
	if c.SMTPURL != "" {
		cfg, err := notify.ParseSMTPURL(c.SMTPURL, c.MailFrom)
		if err != nil {
			return usageError{fmt.Errorf("--smtp-url: %s", kcred.ErrorMessage(err))}
		}
		mailer = notify.NewMailer(cfg)
	} else {
		log.Warn("no --smtp-url: notification emails are recorded, not sent")
	}
	mets := metrics.New(store, log)
	m := lifecycle.New(lifecycle.Config{
		Store: store, Sealer: sealer, Policy: policy, Logger: log,
		Mailer: mailer, Webhooks: &notify.WebhookSender{}, PublicURL: strings.TrimSuffix(c.PublicURL, "/"), Observer: mets,
	})
	defer m.Close()
	if err := bootstrap(ctx, m, c, stderr, log); err != nil {
		return err
	}

	// Background work: River on the same database. On SQLite it shares the
	// store's one write connection so the two never fight over the lock.
	jobsCfg := jobs.Config{SweepInterval: sweepEvery, SoleProcess: soleProcess, Logger: log}
	var runner *jobs.Runner
	switch st := store.(type) {
	case *sqlite.Store:
		runner, err = jobs.StartSQLite(context.Background(), st.WriteDB(), work{m, log}, jobsCfg)
	case *postgres.Store:
		runner, err = jobs.StartPostgres(context.Background(), st.Pool(), work{m, log}, jobsCfg)
	}
	if err != nil {
		return fmt.Errorf("start background jobs: %w", err)
	}
	m.SetKick(runner.Kick)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := runner.Stop(sctx); err != nil {
			log.Warn("stop background jobs", "err", err)
		}
	}()

	ln := c.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", c.Listen); err != nil {
			return err
		}
	}
	// The API answers /v1/, /healthz and /readyz; the web console the rest.
	api := httpapi.NewServer(m, log)
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle("/healthz", api)
	mux.Handle("/readyz", api)
	mux.Handle("GET /metrics", mets.Handler())
	mux.Handle("/", console.New(m, console.Options{Logger: log}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if c.OnListen != nil {
		c.OnListen(scheme + "://" + ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// loadMasterKey reads the master key from KCRED_MASTER_KEY or a file. On
// SQLite it makes <data>/master.key at the first start; on PostgreSQL it
// must be given, because every replica needs the same key.
func loadMasterKey(c serverConfig, log *slog.Logger) ([]byte, error) {
	if v := os.Getenv("KCRED_MASTER_KEY"); v != "" {
		return decodeMasterKey(v, "KCRED_MASTER_KEY")
	}
	path := c.MasterKeyFile
	if path == "" {
		if c.DatabaseURL != "" {
			return nil, usageError{errors.New("with --database-url, give the replicas' shared master key with --master-key-file or KCRED_MASTER_KEY")}
		}
		path = filepath.Join(c.Data, "master.key")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && c.MasterKeyFile == "" {
		key, err := pki.GenerateMasterKey()
		if err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(key) + "\n"
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		if _, err := f.WriteString(enc); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		log.Info("created master key; back it up: without it no key or password can be read", "path", path)
		return key, nil
	} else if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	return decodeMasterKey(strings.TrimSpace(string(b)), path)
}

func decodeMasterKey(s, from string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s must hold 32 bytes in base64 (make one with: head -c 32 /dev/urandom | base64)", from)
	}
	return key, nil
}

// bootstrap makes the superuser on an empty database.
func bootstrap(ctx context.Context, m *lifecycle.Manager, c serverConfig, stderr interface{ Write([]byte) (int, error) }, log *slog.Logger) error {
	token, created, err := m.Bootstrap(ctx, c.AdminEmail, c.AdminPassword, c.BootstrapToken)
	if err != nil {
		return fmt.Errorf("bootstrap: %s", kcred.ErrorMessage(err))
	}
	if !created {
		return nil
	}
	log.Info("created superuser", "email", strings.ToLower(c.AdminEmail), "console_password", c.AdminPassword != "")
	if c.BootstrapToken != "" {
		return nil
	}
	path := filepath.Join(c.Data, "admin-token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	// Printed once, on purpose and not through the logger, so that log
	// collection never holds it.
	fmt.Fprintf(stderr, "\nSuperuser %s created. Its API token (also in %s):\n\n    %s\n\n", strings.ToLower(c.AdminEmail), path, token)
	return nil
}

// work runs the lifecycle for the background jobs and logs what it did.
type work struct {
	m   *lifecycle.Manager
	log *slog.Logger
}

func (w work) SweepOnce(ctx context.Context) error {
	res, err := w.m.Sweep(ctx)
	if err != nil {
		w.log.Error("sweep", "err", err)
		return err
	}
	if res.Renewed+res.Reminded+res.Expired+res.Notifications > 0 {
		w.log.Info("sweep", "renewed", res.Renewed, "reminded", res.Reminded, "expired", res.Expired,
			"notifications", res.Notifications, "duration", res.Duration)
	}
	return nil
}

func (w work) DeliverOnce(ctx context.Context) error {
	n, err := w.m.Deliver(ctx)
	if n > 0 {
		w.log.Info("delivered", "count", n)
	}
	return err
}
