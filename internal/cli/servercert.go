package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/credfiles"
	"github.com/kcred/kcred/internal/httpapi"
)

func newServerCertCmd(o *options) *cobra.Command {
	var (
		hosts    []string
		validity string
		dir      string
	)
	cmd := &cobra.Command{
		Use:   "server-cert --host HOST [--host HOST]... [--validity 365d] [-d DIR]",
		Short: "Issue a Kafka broker's TLS server certificate from the project CA",
		Long: `Issue a TLS server certificate for a Kafka broker, signed by the project CA, so
that clients which trust the project's ca.pem trust the broker too. Admins only.
Each --host is a DNS name (a leading *. is a wildcard) or an IP address the
broker is reached at; the first is the subject's CN. The certificate lasts
--validity (default 365d), never past the CA's own expiry.

It writes into DIR (made with mode 0700 when missing), atomically:

  server.cert   the broker's certificate (0644)
  server.key    its new private key, unencrypted PKCS#8 PEM (0600); kcred
                does not keep it
  ca.pem        the project CA: the broker's truststore for client
                certificates (ssl.truststore.type=PEM)

The issue is recorded in the project's audit log. Issue a new one before this
one expires; kcred does not renew broker certificates.`,
		Example: `  kcred project server-cert --project demo --host kafka-1.example.com --host 10.0.0.11 -d /etc/kafka/ssl`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(hosts) == 0 {
				return usagef("give at least one --host the broker is reached at")
			}
			var d time.Duration
			if validity != "" {
				var err error
				if d, err = kcred.ParseDuration(validity); err != nil || d <= 0 {
					return usagef("--validity: use a positive duration like 365d")
				}
			}
			abs, missing, err := outputDir(dir)
			if err != nil {
				return err
			}
			c, err := o.connect(cmd, true)
			if err != nil {
				return err
			}
			project, err := c.project()
			if err != nil {
				return err
			}
			sc, err := c.IssueServerCertificate(cmd.Context(), project, httpapi.ServerCertificateRequest{Hosts: hosts, Validity: kcred.Duration(d)})
			if err != nil {
				return c.explain(err, target{project: project})
			}
			if missing {
				if err := makeOutputDir(abs); err != nil {
					return err
				}
			}
			files := credfiles.PEM(sc.CACertificate, sc.Certificate, sc.PrivateKey)
			files[1].Name, files[2].Name = "server.key", "server.cert"
			if err := credfiles.Write(abs, files); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Wrote a server certificate of project %s to %s:\n", project, abs)
			fmt.Fprintf(w, "  server.cert  certificate %s, valid until %s\n", sc.Serial, fmtTime(sc.NotAfter))
			fmt.Fprintf(w, "  server.key   private key (mode 0600); kcred keeps no copy\n")
			fmt.Fprintf(w, "  ca.pem       project CA, to trust client certificates\n")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&hosts, "host", nil, "DNS name or IP address of the broker (repeat for more)")
	f.StringVar(&validity, "validity", "", "how long the certificate lasts (default 365d)")
	f.StringVarP(&dir, "target-directory", "d", ".", "directory to write the files to")
	return cmd
}
