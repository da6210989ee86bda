package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred/internal/httpapi"
)

// userArgs are the flag and argument of the commands about one service
// user: --username U SERVICE.
type userArgs struct{ username string }

func (u *userArgs) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&u.username, "username", "", "service user (required)")
}

// check returns the service argument, or a usage error without --username.
func (u *userArgs) check(args []string) (string, error) {
	if err := requireFlag("username", u.username); err != nil {
		return "", err
	}
	return args[0], nil
}

func newUserCreateCmd(o *options) *cobra.Command {
	var (
		ua     userArgs
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "user-create --username USERNAME SERVICE",
		Short:   "Create a service user with its first key and certificate",
		Example: `  kcred service user-create --project demo --username app1 kafka1`,
		Args:    exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := ua.check(args)
			if err != nil {
				return err
			}
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			u, err := c.CreateServiceUser(cmd.Context(), project, service, ua.username)
			if err != nil {
				return c.explain(err, target{project: project, service: service})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), u)
			}
			return printUsers(cmd.OutOrStdout(), []httpapi.User{*u}, c.now(), false)
		},
	}
	ua.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the user as JSON, with its password and key")
	return cmd
}

func newUserListCmd(o *options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "user-list SERVICE",
		Short: "List a service's users and the state of their certificates",
		Long: `List a service's users with the not-after of their newest certificate and its
state: Valid; Expiring while a renewed certificate waits to be acknowledged
(the previous one still works until its own expiry); Expired once the newest
certificate is past its not-after. No passwords or keys are read.`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			s, err := c.GetService(cmd.Context(), project, args[0], false)
			if err != nil {
				return c.explain(err, target{project: project, service: args[0]})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), s.Users)
			}
			return printUsers(cmd.OutOrStdout(), s.Users, c.now(), false)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the users as a JSON array")
	return cmd
}

func newUserGetCmd(o *options) *cobra.Command {
	var (
		ua             userArgs
		asJSON, secret bool
	)
	cmd := &cobra.Command{
		Use:   "user-get --username USERNAME SERVICE",
		Short: "Show a service user and the state of its certificate",
		Long: `Show a service user and the state of its newest certificate (see user-list).
--json prints the user as the API returns it, including access_cert and
expiring_cert_not_valid_after_time; with --include-secrets also its password
and access_key (the read is recorded in the project's audit log).`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := ua.check(args)
			if err != nil {
				return err
			}
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			u, err := c.GetServiceUser(cmd.Context(), project, service, ua.username, secret)
			if err != nil {
				return c.explain(err, target{project: project, service: service, username: ua.username})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), u)
			}
			return printUsers(cmd.OutOrStdout(), []httpapi.User{*u}, c.now(), secret)
		},
	}
	ua.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the user as JSON")
	cmd.Flags().BoolVar(&secret, "include-secrets", false, "also read the password (and with --json the key)")
	return cmd
}

func newUserDeleteCmd(o *options) *cobra.Command {
	var ua userArgs
	cmd := &cobra.Command{
		Use:   "user-delete --username USERNAME SERVICE",
		Short: "Delete a service user and its certificates",
		Long: `Delete a service user and its certificates. Its clients keep working until
their certificate expires, but kcred no longer renews it. The primary user
avnadmin goes only with its service.`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := ua.check(args)
			if err != nil {
				return err
			}
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteServiceUser(cmd.Context(), project, service, ua.username); err != nil {
				return c.explain(err, target{project: project, service: service, username: ua.username})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted service user %q from %s.\n", ua.username, service)
			return nil
		},
	}
	ua.add(cmd)
	return cmd
}

func newCredsAcknowledgeCmd(o *options) *cobra.Command {
	var (
		ua     userArgs
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "user-creds-acknowledge --username USERNAME SERVICE",
		Short: "Acknowledge that the user's renewed certificate is in use",
		Long: `Acknowledge that the clients of a service user use its renewed certificate
(the one user-creds-download writes now). This stops the reminders; the
previous certificate keeps working until it expires. With no renewal waiting
it changes nothing and succeeds.`,
		Example: `  kcred service user-creds-download --project demo --username app1 -d /etc/kafka/creds kafka1
  # ... restart the clients with the new files, then:
  kcred service user-creds-acknowledge --project demo --username app1 kafka1`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := ua.check(args)
			if err != nil {
				return err
			}
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			t := target{project: project, service: service, username: ua.username}
			before, err := c.GetServiceUser(cmd.Context(), project, service, ua.username, false)
			if err != nil {
				return c.explain(err, t)
			}
			s, err := c.AcknowledgeRenewal(cmd.Context(), project, service, ua.username)
			if err != nil {
				return c.explain(err, t)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if u := s.FindUser(ua.username); u != nil {
					return printJSON(w, u)
				}
				return printJSON(w, s)
			}
			if before.ExpiringCertNotValidAfterTime == nil {
				fmt.Fprintf(w, "Nothing to acknowledge: service user %q in %s has no renewed certificate waiting.\n", ua.username, service)
				return nil
			}
			old := time.Time(*before.ExpiringCertNotValidAfterTime)
			fmt.Fprintf(w, "Acknowledged the renewed certificate of %q in %s; the reminders stop. The previous certificate stays valid until %s (%s).\n",
				ua.username, service, old.UTC().Format(time.RFC3339), untilNow(old, c.now()))
			return nil
		},
	}
	ua.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the user as JSON afterwards, with its password and key")
	return cmd
}

func newCredsResetCmd(o *options) *cobra.Command {
	var (
		ua     userArgs
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "user-creds-reset --username USERNAME SERVICE",
		Short: "Give a service user a new password, key and certificate at once",
		Long: `Give a service user a new password, key and certificate at once, with no
renewal notice, as after a rotation of the project CA. Fetch the new files
with user-creds-download. There is no revocation: the previous certificate
stays valid until it expires.`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			service, err := ua.check(args)
			if err != nil {
				return err
			}
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			s, err := c.ResetCredentials(cmd.Context(), project, service, ua.username)
			if err != nil {
				return c.explain(err, target{project: project, service: service, username: ua.username})
			}
			u := s.FindUser(ua.username)
			w := cmd.OutOrStdout()
			if asJSON {
				if u != nil {
					return printJSON(w, u)
				}
				return printJSON(w, s)
			}
			var until string
			if u != nil {
				until = fmt.Sprintf(" (valid until %s)", fmtTime(u.AccessCertNotValidAfterTime))
			}
			fmt.Fprintf(w, "Reset the credentials of %q in %s: a new password, key and certificate%s.\n", ua.username, service, until)
			fmt.Fprintf(w, "Fetch them with: kcred service user-creds-download --project %s --username %s %s\n", project, ua.username, service)
			return nil
		},
	}
	ua.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the user as JSON afterwards, with its new password and key")
	return cmd
}
