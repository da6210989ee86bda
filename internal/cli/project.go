package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcred/kcred/internal/credfiles"

	"github.com/kcred/kcred"
	"github.com/kcred/kcred/internal/httpapi"
)

func newProjectCmd(o *options) *cobra.Command {
	cmd := group("project", "Create, list and show projects and get their CA certificate",
		"A project has its own certificate authority, which issues the certificates of\nall service users of its services.\n\n"+connectionHelp)
	o.addConnFlags(cmd.PersistentFlags())
	cmd.AddCommand(newProjectCreateCmd(o), newProjectListCmd(o), newProjectGetCmd(o), newProjectCAGetCmd(o), newServerCertCmd(o))
	return cmd
}

func newProjectCreateCmd(o *options) *cobra.Command {
	var (
		techEmails                     []string
		keyType, validity, renew, rems string
		asJSON                         bool
	)
	cmd := &cobra.Command{
		Use:   "create PROJECT",
		Short: "Create a project with its CA; you become its admin",
		Long: `Create a project with its certificate authority; you become its admin.

The certificate policy flags override the server's defaults for this project.
Durations are Go durations plus d for days: 820d, 36h, 45s.`,
		Example: `  kcred project create demo --tech-email kafka-team@example.com
  kcred project create short-lived --validity 30d --renew-before 7d --reminders 5d,1d`,
		Args: exactArgs("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := httpapi.ProjectCreateRequest{Project: args[0]}
			for _, e := range techEmails {
				req.TechEmails = append(req.TechEmails, httpapi.TechEmail{Email: e})
			}
			pol, err := policyFlags(keyType, validity, renew, rems)
			if err != nil {
				return err
			}
			req.CertPolicy = pol
			c, err := o.connect(cmd, true)
			if err != nil {
				return err
			}
			p, err := c.CreateProject(cmd.Context(), req)
			if err != nil {
				return c.explain(err, target{})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), p)
			}
			return printProjects(cmd.OutOrStdout(), []httpapi.Project{*p})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&techEmails, "tech-email", nil, "technical contact who gets renewal notices (repeatable)")
	f.StringVar(&keyType, "key-type", "", "key type of certificates: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096")
	f.StringVar(&validity, "validity", "", "validity of certificates, such as 820d")
	f.StringVar(&renew, "renew-before", "", "renew certificates this long before they expire, such as 90d")
	f.StringVar(&rems, "reminders", "", "remind at these offsets before the old certificate expires, such as 60d,30d,7d")
	f.BoolVar(&asJSON, "json", false, "print the project as JSON")
	return cmd
}

// policyFlags checks the policy flags and returns the policy to send, nil
// when none was given.
func policyFlags(keyType, validity, renew, reminders string) (*httpapi.CertPolicy, error) {
	if keyType == "" && validity == "" && renew == "" && reminders == "" {
		return nil, nil
	}
	pol := &httpapi.CertPolicy{KeyType: kcred.KeyType(keyType)}
	if keyType != "" && !pol.KeyType.Valid() {
		return nil, usagef("--key-type %q is not one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096", keyType)
	}
	for _, f := range []struct {
		name, value string
		dst         **kcred.Duration
	}{{"validity", validity, &pol.Validity}, {"renew-before", renew, &pol.RenewBefore}} {
		if f.value == "" {
			continue
		}
		d, err := kcred.ParseDuration(f.value)
		if err != nil {
			return nil, usagef("--%s: %s", f.name, sentence(kcred.ErrorMessage(err)))
		}
		v := kcred.Duration(d)
		*f.dst = &v
	}
	if reminders != "" {
		ds, err := kcred.ParseDurations(reminders)
		if err != nil {
			return nil, usagef("--reminders: %s", sentence(kcred.ErrorMessage(err)))
		}
		pol.Reminders = make([]kcred.Duration, len(ds))
		for i, d := range ds {
			pol.Reminders[i] = kcred.Duration(d)
		}
	}
	return pol, nil
}

func newProjectListCmd(o *options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the projects you are a member of",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(cmd, true)
			if err != nil {
				return err
			}
			ps, err := c.ListProjects(cmd.Context())
			if err != nil {
				return c.explain(err, target{})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), ps)
			}
			return printProjects(cmd.OutOrStdout(), ps)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the projects as a JSON array")
	return cmd
}

func newProjectGetCmd(o *options) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "get [PROJECT]",
		Aliases: []string{"details"},
		Short:   "Show a project and its certificate policy",
		Long:    "Show a project and its certificate policy: PROJECT, or --project when it is not given.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%q takes at most one argument, PROJECT; got %d", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(cmd, true)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				c.s.Project = args[0]
			}
			project, err := c.project()
			if err != nil {
				return err
			}
			p, err := c.GetProject(cmd.Context(), project)
			if err != nil {
				return c.explain(err, target{project: project})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), p)
			}
			return printProjects(cmd.OutOrStdout(), []httpapi.Project{*p})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the project as JSON")
	return cmd
}

func newProjectCAGetCmd(o *options) *cobra.Command {
	var targetPath string
	cmd := &cobra.Command{
		Use:   "ca-get [--target-filepath FILE]",
		Short: "Get the project's CA certificate (PEM)",
		Long: `Get the certificate of the project's CA, which signs every service user's
certificate, as PEM: on standard output, or written to FILE (mode 0644,
atomically). While the CA is being rotated it is a bundle of the old and the
new CA.`,
		Example: `  kcred project ca-get --project demo --target-filepath ca.pem`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.connect(cmd, true)
			if err != nil {
				return err
			}
			project, err := c.project()
			if err != nil {
				return err
			}
			ca, err := c.ProjectCA(cmd.Context(), project)
			if err != nil {
				return c.explain(err, target{project: project})
			}
			if !strings.HasSuffix(ca, "\n") {
				ca += "\n"
			}
			if targetPath == "" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), ca)
				return err
			}
			abs, err := filepath.Abs(targetPath)
			if err != nil {
				return err
			}
			if err := credfiles.WriteAtomic(abs, []byte(ca), 0o644); err != nil {
				return fmt.Errorf("cannot write %s: %v", abs, unwrapPath(err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote the CA certificate of project %s to %s.\n", project, abs)
			return nil
		},
	}
	cmd.Flags().StringVar(&targetPath, "target-filepath", "", "write the certificate to this file instead of standard output")
	return cmd
}
