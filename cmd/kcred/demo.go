package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/devkafka"
	"github.com/kcred/kcred/internal/httpapi"
)

// The demo's fixed names, which its printed commands use.
const (
	demoProject = "demo"
	demoService = "kafka1"
	demoTopic   = "demo"
	demoAdmin   = "admin@kcred.local"
	demoContact = "kafka-team@example.com"
)

// demoUsers are the service users the demo makes: app1 for kcat, app2 for
// a Java client and app3 for the agent, as its printed commands suggest.
var demoUsers = []string{"app1", "app2", "app3"}

// demoConfig is what `kcred demo` is run with.
type demoConfig struct {
	Listen        string
	Data          string
	CertValidity  string
	RenewBefore   string
	Reminders     string
	SweepInterval string
	LogLevel      string
}

func newDemoCmd() *cobra.Command {
	var c demoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Try kcred: a server, a Kafka broker and certificates that renew in minutes",
		Long: `Run a complete kcred on this machine to try it: the server (API and console)
on a fresh SQLite database, an embedded Kafka broker on loopback that requires
client certificates from the project CA, the project "demo" with the service
"kafka1" pointing at that broker, and the service users app1, app2 and app3.

Certificates are short-lived (by default valid for 6 minutes, renewed 4
minutes before they expire, reminders 3 and 1 minute before the old
certificate expires), so renewals, reminders and expiry happen while you
watch. The demo prints how to log in to the console, the commands to download
credentials and produce and consume with them, and how to let the agent verify
and acknowledge renewals. No SMTP server is configured: notifications are
recorded as undelivered and shown on the console's Notifications page.

The data lives in a new temporary directory removed when the demo stops, or
in --data, which must be empty or missing and is kept. Ctrl-C stops the demo.`,
		Example: `  kcred demo
  kcred demo --listen 127.0.0.1:9090 --cert-validity 20m --renew-before 10m --reminder-schedule 8m,4m,1m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), c, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to serve the API and console on; 127.0.0.1:0 picks a free port")
	f.StringVar(&c.Data, "data", "", "directory for the demo's data, empty or missing, kept at exit (default a temporary directory removed at exit)")
	f.StringVar(&c.CertValidity, "cert-validity", "6m", "validity of new certificates")
	f.StringVar(&c.RenewBefore, "renew-before", "4m", "renew a certificate this long before it expires")
	f.StringVar(&c.Reminders, "reminder-schedule", "3m,1m", "remind at these offsets before the old certificate expires")
	f.StringVar(&c.SweepInterval, "sweep-interval", "5s", "how often to look for certificates to renew, reminders to send and renewals to close")
	f.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// runDemo runs the server and the broker until ctx is cancelled, which is a
// clean stop and returns nil.
func runDemo(ctx context.Context, c demoConfig, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	sc := serverConfig{
		Listen: c.Listen, CertValidity: c.CertValidity, RenewBefore: c.RenewBefore, Reminders: c.Reminders,
		SweepInterval: c.SweepInterval, KeyType: string(kcred.KeyTypeECP256), LogLevel: c.LogLevel,
		AdminEmail: demoAdmin,
	}
	// Checked here too, although runServer checks them, so that a mistake
	// is reported before a directory is made or a port taken.
	policy, err := sc.policy()
	if err != nil {
		return usageError{err}
	}
	sweepEvery, err := kcred.ParseDuration(c.SweepInterval)
	if err != nil || sweepEvery < time.Second {
		return usageError{errors.New("--sweep-interval: use a duration of at least 1s, like 5s")}
	}

	data, temporary, err := demoDataDir(c.Data)
	if err != nil {
		return err
	}
	if temporary {
		defer func() {
			if err := os.RemoveAll(data); err != nil {
				log.Warn("remove the demo's data", "dir", data, "err", err)
			}
		}()
	}
	// Bound here rather than in runServer so that the address, needed for
	// the links in notifications, is known before the server starts.
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("%w (choose another address with --listen)", err)
	}
	defer ln.Close()
	baseURL := "http://" + ln.Addr().String()

	// The demo acts as the superuser through its own API, so it chooses the
	// bootstrap token; the password is for the newcomer's console login.
	token := "kcred_demo_" + strings.ToLower(rand.Text())
	password := strings.ToLower(rand.Text()[:16])
	sc.Data, sc.Listener, sc.PublicURL = data, ln, baseURL
	sc.AdminPassword, sc.BootstrapToken = password, token
	ready := make(chan struct{})
	sc.OnListen = func(string) { close(ready) }

	sctx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	errc := make(chan error, 1)
	go func() { errc <- runServer(sctx, sc, stderr) }()
	select {
	case <-ready:
	case err := <-errc:
		if ctx.Err() != nil {
			return nil // interrupted while starting
		}
		if err == nil {
			err = errors.New("the server stopped while starting")
		}
		return err
	}

	client := httpapi.NewClient(baseURL, token, nil)
	broker, notAfter, err := setupDemo(ctx, client)
	if err != nil {
		stopServer()
		serr := <-errc
		if ctx.Err() != nil {
			return serr // interrupted while setting up: a clean stop
		}
		return fmt.Errorf("set up the demo: %w", err)
	}
	stopWatch := watchConnections(broker, log)

	printDemo(stdout, demoInfo{
		URL: baseURL, Password: password, Token: token, Broker: broker.Addr(), Data: data, Temporary: temporary,
		Policy: policy, SweepEvery: sweepEvery, NotAfter: notAfter,
	})

	var serverErr error
	select {
	case <-ctx.Done():
		log.Info("stopping the demo")
	case serverErr = <-errc:
		if serverErr == nil {
			serverErr = errors.New("the server stopped unexpectedly")
		}
	}
	stopWatch()
	broker.Close()
	stopServer()
	if serverErr != nil {
		return serverErr
	}
	if err := <-errc; err != nil {
		return err
	}
	if temporary {
		log.Info("demo stopped; its data is removed", "dir", data)
	} else {
		log.Info("demo stopped; its data is kept", "dir", data)
	}
	return nil
}

// demoDataDir returns the directory for the demo's data: dir when it is
// empty or missing (runServer makes it), or a new temporary directory when
// dir is "", which the caller removes at exit. A directory with files in it
// is refused: it may be someone's real data, and the demo's token would not
// work on a database that already has a superuser.
func demoDataDir(dir string) (path string, temporary bool, err error) {
	if dir == "" {
		path, err := os.MkdirTemp("", "kcred-demo-")
		return path, true, err
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return dir, false, nil
	case err != nil:
		return "", false, usageError{fmt.Errorf("--data: %w", err)}
	case len(entries) > 0:
		return "", false, usageError{fmt.Errorf("--data %s is not empty: the demo starts from an empty directory; remove it or name another", dir)}
	}
	return dir, false, nil
}

// setupDemo makes the demo's project, starts the broker with a server
// certificate from the project CA, registers it as the service and makes
// the users. It returns the broker and the expiry of the users' first
// certificates.
func setupDemo(ctx context.Context, c *httpapi.Client) (*devkafka.Broker, time.Time, error) {
	_, err := c.CreateProject(ctx, httpapi.ProjectCreateRequest{
		Project: demoProject, TechEmails: []httpapi.TechEmail{{Email: demoContact}},
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("create project %s: %w", demoProject, err)
	}
	sc, err := c.IssueServerCertificate(ctx, demoProject, httpapi.ServerCertificateRequest{Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("broker certificate: %w", err)
	}
	broker, err := devkafka.StartPEM(sc.CACertificate, sc.Certificate, sc.PrivateKey, demoTopic)
	if err != nil {
		return nil, time.Time{}, err
	}
	_, err = c.CreateService(ctx, demoProject, httpapi.ServiceCreateRequest{
		ServiceName: demoService, ServiceType: "kafka", ServiceURI: broker.Addr(),
	})
	if err != nil {
		broker.Close()
		return nil, time.Time{}, fmt.Errorf("create service %s: %w", demoService, err)
	}
	var notAfter time.Time
	for _, name := range demoUsers {
		u, err := c.CreateServiceUser(ctx, demoProject, demoService, name)
		if err != nil {
			broker.Close()
			return nil, time.Time{}, fmt.Errorf("create service user %s: %w", name, err)
		}
		notAfter = time.Time(u.AccessCertNotValidAfterTime)
	}
	return broker, notAfter, nil
}

// watchConnections logs the client connections the broker accepts, so the
// newcomer sees which certificate each client used, until stop is called.
// A Kafka client opens several connections at once, so a certificate is
// logged at most once in 10 seconds.
func watchConnections(b *devkafka.Broker, log *slog.Logger) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		seen := 0
		logged := map[string]time.Time{}
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			conns := b.Connections()
			for _, c := range conns[seen:] {
				if at, ok := logged[c.Serial]; ok && c.Time.Sub(at) < 10*time.Second {
					continue
				}
				logged[c.Serial] = c.Time
				log.Info("kafka client connected", "user", c.CommonName, "serial", c.Serial, "from", c.Remote)
			}
			seen = len(conns)
		}
	}()
	return func() { close(done); <-finished }
}

// demoInfo is what printDemo tells the newcomer.
type demoInfo struct {
	URL, Password, Token, Broker, Data string
	Temporary                          bool
	Policy                             kcred.CertPolicy
	SweepEvery                         time.Duration
	NotAfter                           time.Time // of the users' first certificates
}

// printDemo writes how to use the running demo.
func printDemo(w io.Writer, d demoInfo) {
	p, dur := d.Policy, kcred.FormatDuration
	kept := "kept when the demo stops"
	if d.Temporary {
		kept = "removed when the demo stops"
	}
	users := strings.Join(demoUsers[:len(demoUsers)-1], ", ") + " and " + demoUsers[len(demoUsers)-1]
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	line("")
	line("kcred demo is running. Ctrl-C stops it.")
	line("")
	line("  Console  %s/", d.URL)
	line("           log in as %s with the password %s", demoAdmin, d.Password)
	line("  Kafka    %s (TLS; client certificates from the project CA; topic %q)", d.Broker, demoTopic)
	line("  Data     %s (%s)", d.Data, kept)
	line("")
	line("The project %q has the Kafka service %q, whose service_uri is the broker,", demoProject, demoService)
	line("with the service users %s (and avnadmin). Certificates are valid", users)
	line("for %s. kcred renews them %s before they expire with a new key, keeps the old", dur(p.Validity), dur(p.RenewBefore))
	line("certificate working until it expires, and reminds until someone acknowledges")
	line("the new one. It looks every %s, so around:", dur(d.SweepEvery))
	line("")
	clock := func(t time.Time) string { return t.Local().Format("15:04:05") }
	line("  %s  renewal: every user gets a new key and certificate (notice \"renewed\")", clock(d.NotAfter.Add(-p.RenewBefore)))
	for _, r := range p.Reminders {
		// Offsets reached before the renewal have nothing to remind of.
		if r < p.RenewBefore {
			line("  %s  reminder, %s before the old certificates expire, for users not acknowledged", clock(d.NotAfter.Add(-r)), dur(r))
		}
	}
	line("  %s  the old certificates expire (notice \"expired_unacknowledged\" for users", clock(d.NotAfter))
	line("            not acknowledged), and it starts over with the new ones")
	line("")
	line("Notices go to %s and %s. No SMTP server is", demoAdmin, demoContact)
	line("configured, so they are recorded as undelivered: read them on the console's")
	line("Notifications page, %s/projects/%s/notifications", d.URL, demoProject)
	line("")
	line("In another terminal:")
	line("")
	line("  export KCRED_URL=%s", d.URL)
	line("  export KCRED_TOKEN=%s", d.Token)
	line("  export KCRED_PROJECT=%s", demoProject)
	line("")
	line("  # app1: the PEM files, then produce and consume with kcat")
	line("  kcred service user-creds-download --username app1 -d ./app1 %s", demoService)
	kcat := fmt.Sprintf("kcat -b %s -X security.protocol=ssl -X ssl.ca.location=app1/ca.pem \\\n"+
		"    -X ssl.certificate.location=app1/service.cert -X ssl.key.location=app1/service.key -t %s", d.Broker, demoTopic)
	line("  echo 'hello from app1' | %s -P", kcat)
	line("  %s -C -o beginning -e", kcat)
	line("")
	line("  # app2: a Java client with a keystore, a truststore and client.properties")
	line("  kcred service user-kafka-java-creds --username app2 -d ./app2 -p demo-store-pass %s", demoService)
	line("  kafka-console-consumer.sh --bootstrap-server %s --consumer.config app2/client.properties \\", d.Broker)
	line("    --topic %s --from-beginning", demoTopic)
	line("")
	line("  # app3: the agent keeps the files current, proves each new certificate on the")
	line("  # broker and only then acknowledges it, so app3 gets no reminders")
	line("  kcred agent --service %s --username app3 -d ./app3 --interval 10s --verify --acknowledge", demoService)
	line("")
	line("  # after the renewal: fetch app1's new files (kcat above then uses them), and stop")
	line("  # its reminders, or use the console's ... menu: Acknowledge certificate")
	line("  kcred service user-creds-download --username app1 -d ./app1 %s", demoService)
	line("  kcred service user-creds-acknowledge --username app1 %s", demoService)
	line("")
	line("The log shows each sweep and each Kafka client connection with its certificate's serial.")
	line("")
	io.WriteString(w, b.String())
}
