package cli

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/agent"
)

func newAgentCmd(o *options) *cobra.Command {
	var (
		service, username, dir, interval string
		javaCreds                        bool
		password, execCmd, logLevel      string
		verify, acknowledge, once        bool
	)
	cmd := &cobra.Command{
		Use:   "agent --project P --service S --username U -d DIR [flags]",
		Short: "Keep a Kafka client's certificate files current, verify and acknowledge",
		Long: `Keep a Kafka client's credential files current. Every --interval the agent asks
kcred for the service user; when the served certificate is not the one in DIR
it writes, atomically, the files of user-creds-download (ca.pem, service.cert,
service.key) and, with --java-creds, those of user-kafka-java-creds. Then:

  --exec CMD     runs CMD with sh -c in DIR so the client restarts or reloads.
                 Its environment names the new certificate: KCRED_SERIAL,
                 KCRED_NOT_AFTER, KCRED_DIR, KCRED_CA_FILE, KCRED_CERT_FILE,
                 KCRED_KEY_FILE (and KCRED_KEYSTORE_FILE, KCRED_TRUSTSTORE_FILE,
                 KCRED_PROPERTIES_FILE with --java-creds), KCRED_PROJECT,
                 KCRED_SERVICE, KCRED_USERNAME. A failing CMD runs again at the
                 next check.
  --verify       connects to the service's service_uri with the new
                 certificate, trusting only the project CA, and sends a Kafka
                 metadata request: proof that the broker accepts it.
  --acknowledge  then acknowledges the renewal, which stops the reminders.
                 It needs --verify: the agent never acknowledges a certificate
                 it could not prove, nor one whose hook failed.

Failures are logged and retried after 5 s, backing off to the interval. The
token needs the developer role or above in the project. Each download of the
key is recorded in the project's audit log; the agent downloads only when the
certificate changed. With --once it checks once and exits, non-zero when
anything failed.

` + connectionHelp,
		Example: `  kcred agent --project demo --service kafka1 --username app1 -d /etc/app/kafka \
    --exec 'systemctl restart app' --verify --acknowledge
  kcred agent --project demo --service kafka1 --username app1 -d ./java \
    --java-creds --password "$STORE_PASSWORD" --verify --acknowledge --once`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("service", service); err != nil {
				return err
			}
			if err := requireFlag("username", username); err != nil {
				return err
			}
			if err := kcred.ValidateUsername(username); err != nil {
				return usagef("--username: %s", sentence(kcred.ErrorMessage(err)))
			}
			every, err := kcred.ParseDuration(interval)
			if err != nil || every < time.Second {
				return usagef("--interval: use a duration of at least 1s, like 1m")
			}
			if acknowledge && !verify {
				return usagef("--acknowledge needs --verify: the agent acknowledges only a certificate the broker accepted")
			}
			if password == "" {
				password = o.getenv("KCRED_STORE_PASSWORD")
			}
			if javaCreds && len(password) < 6 {
				return usagef("--java-creds needs --password (or KCRED_STORE_PASSWORD) of at least 6 characters")
			} else if !javaCreds {
				password = ""
			}
			if strings.ContainsAny(password, "\r\n") {
				return usagef("--password must not contain a line break")
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level: use debug, info, warn or error")
			}
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			c.UserAgent = "kcred-agent"
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			a, err := agent.New(agent.Config{
				API: c.Client, Project: project, Service: service, Username: username, Dir: dir, Interval: every,
				JavaPassword: password, Exec: execCmd, Verify: verify, Acknowledge: acknowledge, Logger: log,
			})
			if err != nil {
				return usagef("%s", strings.TrimPrefix(err.Error(), "agent: "))
			}
			if !once {
				log.Info("agent started", "project", project, "service", service, "user", username, "dir", dir,
					"interval", kcred.FormatDuration(every), "verify", verify, "acknowledge", acknowledge)
				return a.Run(cmd.Context())
			}
			res, err := a.Check(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			state := "unchanged"
			if res.Wrote {
				state = "written"
			}
			fmt.Fprintf(w, "Certificate %s in %s: %s", res.Serial, dir, state)
			if res.HookRan {
				fmt.Fprint(w, ", hook ran")
			}
			if res.Verified {
				fmt.Fprint(w, ", verified on the broker")
			}
			if res.Acknowledged {
				fmt.Fprint(w, ", renewal acknowledged")
			} else if res.Pending {
				fmt.Fprint(w, "; a renewal waits for acknowledgement")
			}
			fmt.Fprintln(w, ".")
			return nil
		},
	}
	o.addConnFlags(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&service, "service", "", "service of the user (required)")
	f.StringVar(&username, "username", "", "service user (required)")
	f.StringVarP(&dir, "target-directory", "d", ".", "directory of the files (made with mode 0700 when missing)")
	f.StringVar(&interval, "interval", "1m", "how often to check")
	f.BoolVar(&javaCreds, "java-creds", false, "also keep client.keystore.p12, client.truststore.jks and client.properties")
	f.StringVarP(&password, "password", "p", "", "password of the Java stores (or KCRED_STORE_PASSWORD)")
	f.StringVar(&execCmd, "exec", "", "shell command to run after new files were written")
	f.BoolVar(&verify, "verify", false, "prove the new certificate with a Kafka connection to service_uri")
	f.BoolVar(&acknowledge, "acknowledge", false, "acknowledge the renewal once verified (needs --verify)")
	f.BoolVar(&once, "once", false, "check once and exit")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
