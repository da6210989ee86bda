package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred/internal/httpapi"
)

func newServiceCmd(o *options) *cobra.Command {
	cmd := group("service", "Manage Kafka services, their users and the users' credentials",
		`A service is one Kafka cluster registered in a project. Its service users each
have a key and a client certificate from the project CA; kcred renews them
before they expire, and the user-creds commands fetch the newest ones and
acknowledge that they are in use. The commands are those of Aiven's avn.

`+connectionHelp)
	o.addConnFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		newServiceCreateCmd(o), newServiceListCmd(o), newServiceGetCmd(o), newServiceDeleteCmd(o),
		newUserCreateCmd(o), newUserListCmd(o), newUserGetCmd(o), newUserDeleteCmd(o),
		newCredsDownloadCmd(o), newCredsAcknowledgeCmd(o), newCredsResetCmd(o), newJavaCredsCmd(o),
	)
	return cmd
}

// serviceConn connects and returns the project to work in.
func (o *options) serviceConn(cmd *cobra.Command) (*conn, string, error) {
	c, err := o.connect(cmd, true)
	if err != nil {
		return nil, "", err
	}
	project, err := c.project()
	if err != nil {
		return nil, "", err
	}
	return c, project, nil
}

func newServiceCreateCmd(o *options) *cobra.Command {
	var (
		uri, typ   string
		techEmails []string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "create SERVICE [--service-uri HOST:PORT]",
		Short: "Register a Kafka service; it comes with its primary user avnadmin",
		Long: `Register a Kafka service in the project. It comes with its primary user
avnadmin, which has a key and certificate at once. --service-uri is the
bootstrap address that user-kafka-java-creds writes into client.properties.`,
		Example: `  kcred service create kafka1 --project demo --service-uri kafka.example.com:9093`,
		Args:    exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			req := httpapi.ServiceCreateRequest{ServiceName: args[0], ServiceType: typ, ServiceURI: uri}
			for _, e := range techEmails {
				req.TechEmails = append(req.TechEmails, httpapi.TechEmail{Email: e})
			}
			s, err := c.CreateService(cmd.Context(), project, req)
			if err != nil {
				return c.explain(err, target{project: project})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), s)
			}
			return printServices(cmd.OutOrStdout(), []httpapi.Service{*s})
		},
	}
	f := cmd.Flags()
	f.StringVar(&uri, "service-uri", "", "bootstrap address of the Kafka cluster, HOST:PORT")
	f.StringVarP(&typ, "service-type", "t", "kafka", "service type; kcred manages kafka services")
	f.StringArrayVar(&techEmails, "tech-email", nil, "technical contact who gets renewal notices instead of the project's (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the service as JSON (with avnadmin's password and key)")
	return cmd
}

func newServiceListCmd(o *options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the project's services",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			ss, err := c.ListServices(cmd.Context(), project)
			if err != nil {
				return c.explain(err, target{project: project})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), ss)
			}
			return printServices(cmd.OutOrStdout(), ss)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the services as a JSON array")
	return cmd
}

func newServiceGetCmd(o *options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get SERVICE",
		Short: "Show a service and its users",
		Long:  "Show a service and its users, without passwords or keys.",
		Args:  exactArgs("SERVICE"),
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
				return printJSON(cmd.OutOrStdout(), s)
			}
			w := cmd.OutOrStdout()
			if err := printServices(w, []httpapi.Service{*s}); err != nil {
				return err
			}
			fmt.Fprintln(w)
			return printUsers(w, s.Users, c.now(), false)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the service as JSON")
	return cmd
}

func newServiceDeleteCmd(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "delete SERVICE [--force]",
		Aliases: []string{"terminate"},
		Short:   "Delete a service with all its users and certificates",
		Long: `Delete a service with all its users and their certificates. Clients keep
working until their certificates expire, but kcred no longer renews them.
kcred asks you to type the service name to confirm, unless --force is given.`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, project, err := o.serviceConn(cmd)
			if err != nil {
				return err
			}
			if !force {
				if err := confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), name,
					fmt.Sprintf("Delete service %s of project %s with all its users and certificates? Type its name to confirm: ", name, project)); err != nil {
					return err
				}
			}
			if err := c.DeleteService(cmd.Context(), project, name); err != nil {
				return c.explain(err, target{project: project, service: name})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted service %s of project %s with its users and certificates.\n", name, project)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete without asking")
	return cmd
}

// confirm asks for want to be typed and fails unless it was.
func confirm(in io.Reader, errw io.Writer, want, prompt string) error {
	fmt.Fprint(errw, prompt)
	line, _ := readLine(in)
	if f, ok := in.(*os.File); !ok || !isTerminal(int(f.Fd())) {
		fmt.Fprintln(errw) // the terminal echoes the line end; a pipe does not
	}
	if strings.TrimSpace(line) == want {
		return nil
	}
	return errors.New("not confirmed, nothing was deleted; type the name when asked, or give --force")
}
