package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kcred/kcred"
)

const (
	webhookCols = `id, project, url, sealed_secret, create_time`

	sqlCreateWebhook = `INSERT INTO webhooks (` + webhookCols + `) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`
	sqlFindWebhook   = `SELECT ` + webhookCols + ` FROM webhooks WHERE id = $1`
	sqlListWebhooks  = `SELECT ` + webhookCols + ` FROM webhooks WHERE project = $1 ORDER BY create_time, id`
	sqlDeleteWebhook = `DELETE FROM webhooks WHERE id = $1`
)

// CreateWebhook implements kcred.RenewalQueries. The webhook must have an
// ID (its secret is sealed with it); ECONFLICT when the ID is taken,
// ENOTFOUND when the project does not exist.
func (q queries) CreateWebhook(ctx context.Context, w *kcred.Webhook) error {
	if err := mustID("webhook", w.ID); err != nil {
		return err
	}
	defaultNow(&w.CreateTime)
	norm(&w.CreateTime)
	n, err := q.exec(ctx, sqlCreateWebhook, w.ID, w.Project, w.URL, blob(w.SealedSecret), timeArg(w.CreateTime))
	if foreignKey(err) != "" {
		return kcred.Errorf(kcred.ENOTFOUND, errProjectNotFoundFormat, w.Project)
	} else if err != nil {
		return fail("create webhook", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ECONFLICT, "Webhook already exists.")
	}
	return nil
}

func scanWebhook(row pgx.Row) (*kcred.Webhook, error) {
	w := &kcred.Webhook{}
	err := row.Scan(&w.ID, &w.Project, &w.URL, &w.SealedSecret, (*ntime)(&w.CreateTime))
	return w, err
}

// FindWebhook implements kcred.RenewalQueries.
func (q queries) FindWebhook(ctx context.Context, id string) (*kcred.Webhook, error) {
	w, err := scanWebhook(q.db.QueryRow(ctx, sqlFindWebhook, id))
	if noRows(err) {
		return nil, kcred.Errorf(kcred.ENOTFOUND, "Webhook does not exist.")
	} else if err != nil {
		return nil, fail("find webhook", err, "")
	}
	return w, nil
}

// ListWebhooks implements kcred.RenewalQueries: oldest first, ties by ID.
func (q queries) ListWebhooks(ctx context.Context, project string) ([]*kcred.Webhook, error) {
	return list(q, ctx, "list webhooks", scanWebhook, sqlListWebhooks, project)
}

// DeleteWebhook implements kcred.RenewalQueries. Deliveries to the webhook
// stay: they are the record of what was sent.
func (q queries) DeleteWebhook(ctx context.Context, id string) error {
	n, err := q.exec(ctx, sqlDeleteWebhook, id)
	if err != nil {
		return fail("delete webhook", err, "")
	}
	if n == 0 {
		return kcred.Errorf(kcred.ENOTFOUND, "Webhook does not exist.")
	}
	return nil
}
