package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred/internal/credfiles"
	"github.com/kcred/kcred/internal/httpapi"
)

// defaultStorePassword is avn's default for the Java stores.
const defaultStorePassword = "changeit"

// credentials are what a client needs, fetched for one user.
type credentials struct {
	project, service string
	ca               string
	user             *httpapi.User
}

// fetchCredentials reads the project CA and the user with its key. The key
// read is recorded in the project's audit log.
func fetchCredentials(cmd *cobra.Command, c *conn, project, service, username string) (*credentials, error) {
	t := target{project: project, service: service, username: username}
	ca, err := c.ProjectCA(cmd.Context(), project)
	if err != nil {
		return nil, c.explain(err, t)
	}
	u, err := c.GetServiceUser(cmd.Context(), project, service, username, true)
	if err != nil {
		return nil, c.explain(err, t)
	}
	if u.AccessKey == nil || *u.AccessKey == "" || u.AccessCert == "" {
		return nil, fmt.Errorf("the server sent no key for %q in %s: your role in project %s may not read credentials (developer or higher may)", username, service, project)
	}
	return &credentials{project: project, service: service, ca: ca, user: u}, nil
}

// notice says, after files were written, whether a renewal waits for
// acknowledgement and what to do about it.
func notice(w io.Writer, cr *credentials, now time.Time) {
	exp := cr.user.ExpiringCertNotValidAfterTime
	if exp == nil {
		return
	}
	old := time.Time(*exp)
	fmt.Fprintf(w, "\nThis is a renewed certificate; the previous one stays valid until %s (%s).\n", old.UTC().Format(time.RFC3339), untilNow(old, now))
	fmt.Fprintf(w, "Once your clients use these files, run: kcred service user-creds-acknowledge --project %s --username %s %s\n",
		cr.project, cr.user.Username, cr.service)
}

func newCredsDownloadCmd(o *options) *cobra.Command {
	var (
		ua  userArgs
		dir string
	)
	cmd := &cobra.Command{
		Use:   "user-creds-download --username USERNAME [-d DIR] SERVICE",
		Short: "Write the user's CA, certificate and key: ca.pem, service.cert, service.key",
		Long: `Write what a Kafka client needs to authenticate as the service user, into DIR
(the current directory by default; made with mode 0700 when missing):

  ca.pem         the project CA certificate (0644)
  service.cert   the user's newest certificate (0644)
  service.key    its private key, unencrypted PKCS#8 PEM (0600)

Each file is written atomically (a temporary file, then a rename), so a client
never reads half a file. After a renewal this fetches the new certificate; the
key read is recorded in the project's audit log.`,
		Example: `  kcred service user-creds-download --project demo --username app1 -d ./creds kafka1
  openssl verify -CAfile creds/ca.pem creds/service.cert`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := ua.check(args)
			if err != nil {
				return err
			}
			abs, missing, err := outputDir(dir)
			if err != nil {
				return err
			}
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			cr, err := fetchCredentials(cmd, c, project, service, ua.username)
			if err != nil {
				return err
			}
			if missing {
				if err := makeOutputDir(abs); err != nil {
					return err
				}
			}
			err = credfiles.Write(abs, credfiles.PEM(cr.ca, cr.user.AccessCert, *cr.user.AccessKey))
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Wrote the credentials of %q in %s to %s:\n", ua.username, service, abs)
			fmt.Fprintf(w, "  ca.pem        project CA certificate\n")
			fmt.Fprintf(w, "  service.cert  certificate, valid until %s\n", fmtTime(cr.user.AccessCertNotValidAfterTime))
			fmt.Fprintf(w, "  service.key   private key (mode 0600)\n")
			notice(w, cr, c.now())
			return nil
		},
	}
	ua.add(cmd)
	cmd.Flags().StringVarP(&dir, "target-directory", "d", ".", "directory to write the files to")
	return cmd
}

func newJavaCredsCmd(o *options) *cobra.Command {
	var (
		ua       userArgs
		dir      string
		password string
	)
	cmd := &cobra.Command{
		Use:   "user-kafka-java-creds --username USERNAME [-d DIR] [-p PASSWORD] SERVICE",
		Short: "Write a Java keystore, truststore and client.properties for the user",
		Long: `Write what a Java Kafka client needs to authenticate as the service user, into
DIR (the current directory by default; made with mode 0700 when missing), all
with mode 0600 and atomically:

  client.keystore.p12     PKCS#12 keystore with the key and the chain
                          (certificate, project CA) as entry "service",
                          PBES2/AES-256 and a SHA-256 MAC, which Java 12+
                          and OpenSSL 1.1.1+ read
  client.truststore.jks   JKS truststore with the project CA, alias "ca"
  client.properties       bootstrap.servers (the service's service_uri),
                          security.protocol=SSL, and the stores' absolute
                          paths, types and passwords

The stores are made in Go: neither keytool nor openssl is needed. Both use
PASSWORD (at least 6 characters), which is also written into
client.properties. It defaults to "changeit", as in avn: choose your own.
For the PEM files, use user-creds-download.`,
		Example: `  kcred service user-kafka-java-creds --project demo --username app1 -d ./java -p 's3cret-pass' kafka1
  kafka-console-consumer.sh --bootstrap-server kafka.example.com:9093 \
    --consumer.config java/client.properties --topic orders`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := ua.check(args)
			if err != nil {
				return err
			}
			if len(password) < 6 {
				return usagef("-p: the password must be at least 6 characters (keytool's rule for stores)")
			}
			if strings.ContainsAny(password, "\r\n") {
				return usagef("-p: the password must not contain a line break")
			}
			abs, missing, err := outputDir(dir)
			if err != nil {
				return err
			}
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("password") {
				fmt.Fprintf(cmd.ErrOrStderr(), "kcred: warning: the stores use the default password %q; choose your own with -p\n", defaultStorePassword)
			}
			svc, err := c.GetService(cmd.Context(), project, service, false)
			if err != nil {
				return c.explain(err, target{project: project, service: service})
			}
			cr, err := fetchCredentials(cmd, c, project, service, ua.username)
			if err != nil {
				return err
			}
			files, err := javaStores(cr, password, svc.ServiceURI, abs)
			if err != nil {
				return err
			}
			if missing {
				if err := makeOutputDir(abs); err != nil {
					return err
				}
			}
			if err := credfiles.Write(abs, files); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Wrote the Java credentials of %q in %s to %s (mode 0600):\n", ua.username, service, abs)
			fmt.Fprintf(w, "  client.keystore.p12    PKCS#12 keystore: key and certificate, valid until %s\n", fmtTime(cr.user.AccessCertNotValidAfterTime))
			fmt.Fprintf(w, "  client.truststore.jks  JKS truststore: project CA\n")
			fmt.Fprintf(w, "  client.properties      settings for the Kafka client\n")
			if svc.ServiceURI == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "kcred: warning: service %s has no service_uri; set bootstrap.servers in client.properties yourself\n", service)
			}
			notice(w, cr, c.now())
			return nil
		},
	}
	ua.add(cmd)
	f := cmd.Flags()
	f.StringVarP(&dir, "target-directory", "d", ".", "directory to write the files to")
	f.StringVarP(&password, "password", "p", defaultStorePassword, "password of the keystore and truststore")
	return cmd
}

// javaStores builds the three files of user-kafka-java-creds.
func javaStores(cr *credentials, password, serviceURI, dir string) ([]credfiles.File, error) {
	files, err := credfiles.Java(cr.ca, cr.user.AccessCert, *cr.user.AccessKey, password, serviceURI, dir,
		fmt.Sprintf("service user %s of service %s in project %s", cr.user.Username, cr.service, cr.project))
	if err != nil {
		return nil, fmt.Errorf("the credentials the server sent for %q: %s", cr.user.Username, err)
	}
	return files, nil
}
