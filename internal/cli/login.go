package cli

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred/internal/httpapi"
)

func newLoginCmd(o *options) *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use:   "login [--url URL] (--email EMAIL | --token TOKEN)",
		Short: "Log in to a kcred server and save the token in the config file",
		Long: `Log in to a kcred server and save its address and a token in the config file,
so that the other commands need neither flags nor variables.

With --email, kcred asks for the password (without echo on a terminal; as one
line from standard input otherwise) and exchanges it for a token through
POST /v1/userauth. With --token, it checks the token with the server and saves
it; "--token -" reads it from standard input, which keeps it out of the shell
history and the process list.

The config file is $KCRED_CONFIG, or kcred/config.json in your config
directory (~/.config on Linux), written with mode 0600. It holds the URL, the
token, and the --ca-cert file and --project when given. The server address is
--url, KCRED_URL, AIVEN_WEB_URL or the config file's, in that order.`,
		Example: `  kcred login --url https://kcred.example.com --email me@example.com
  kcred login --url http://127.0.0.1:8080 --token - < kcred-data/admin-token
  kcred login --url https://kcred.internal --ca-cert internal-ca.pem --project demo --email me@example.com`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error { return o.login(cmd, email) },
	}
	f := cmd.Flags()
	f.StringVar(&o.flags.URL, "url", "", "kcred server address, such as https://kcred.example.com")
	f.StringVar(&email, "email", "", "log in as this account; the password is asked for")
	f.StringVar(&o.flags.Token, "token", "", "save this API token; - reads it from standard input")
	f.StringVar(&o.flags.CACert, "ca-cert", "", "PEM file with the CA that signed the server's HTTPS certificate; saved")
	f.StringVar(&o.flags.Project, "project", "", "default project for the other commands; saved")
	return cmd
}

func (o *options) login(cmd *cobra.Command, email string) error {
	ctx := cmd.Context()
	token := o.flags.Token
	switch {
	case email != "" && token != "":
		return usagef("give --email or --token, not both")
	case email == "" && token == "":
		return usagef("give --email EMAIL to log in with a password, or --token TOKEN (--token - reads it from standard input)")
	}
	// The token to check is the one given here, never one from the
	// environment or an earlier login.
	o.flags.Token = ""
	r, err := o.resolve(cmd)
	if err != nil {
		return err
	}
	if r.pathErr != nil {
		return r.pathErr
	}
	s := r.s
	s.Token, s.tokenFrom = "", "--token"
	if r.file.URL != s.URL {
		// The config file's CA belongs to the server it names.
		s.CACert, _ = first(o.flags.CACert, o.getenv("KCRED_CA_CERT"), o.getenv("AIVEN_CA_CERT"))
	}

	if token == "-" {
		if token, err = readSecret(ctx, cmd.InOrStdin(), cmd.ErrOrStderr(), "Token: ", "token"); err != nil {
			return err
		}
	}
	if email != "" {
		password, err := readSecret(ctx, cmd.InOrStdin(), cmd.ErrOrStderr(), "Password for "+email+": ", "password")
		if err != nil {
			return err
		}
		anon, err := o.connectWith(s, false)
		if err != nil {
			return err
		}
		res, err := anon.Login(ctx, email, password)
		if err != nil {
			if st := httpapi.ErrorStatus(err); st == http.StatusUnauthorized || st == http.StatusTooManyRequests {
				var ae *httpapi.APIError
				errors.As(err, &ae)
				return fmt.Errorf("cannot log in to %s as %s: %s", s.URL, email, sentence(ae.Message))
			}
			return anon.explain(err, target{})
		}
		token, s.tokenFrom = res.Token, "the login"
	}

	s.Token = token
	c, err := o.connectWith(s, true)
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return c.explain(err, target{})
	}

	file := r.file
	if file.URL != s.URL {
		// Settings of another server do not carry over.
		file = fileConfig{}
	}
	file.URL, file.Token = s.URL, token
	if o.flags.CACert != "" {
		if file.CACert, err = filepath.Abs(o.flags.CACert); err != nil {
			return err
		}
	}
	if o.flags.Project != "" {
		file.Project = o.flags.Project
	}
	if err := saveConfig(r.path, file); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s; saved the token in %s.\n", s.URL, me.Email, r.path)
	return nil
}
