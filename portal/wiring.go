package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/users"
	"github.com/olctl/olctl/wire"
)

// The adapters from the real packages to the pipeline's interfaces.

// fileImporter is a FileImporter on a files.Importer.
type fileImporter struct{ imp *files.Importer }

func newFileImporter(ctx context.Context, cfg Config, db *sqldb.DB, logger *slog.Logger, clk clock.Clock) (FileImporter, error) {
	dir := cfg.FilesDir
	if dir == "" {
		if cfg.DataDir == "" {
			return nil, fmt.Errorf("%w: FilesDir or DataDir is needed for imported files", ErrConfig)
		}
		dir = filepath.Join(cfg.DataDir, "files")
	}
	store, err := files.NewDiskStore(ctx, dir, db)
	if err != nil {
		return nil, fmt.Errorf("portal: file store: %w", err)
	}
	opts := append([]files.Option{files.WithLogger(logger), files.WithClock(clk), files.WithProfile(cfg.Profile)}, cfg.FileOptions...)
	return NewFileImporter(files.NewImporter(store, opts...)), nil
}

// NewFileImporter adapts a files.Importer to the pipeline (for a Config.Files with its own store or
// options).
func NewFileImporter(imp *files.Importer) FileImporter { return fileImporter{imp} }

func (f fileImporter) Import(ctx context.Context, in []openlines.File) ([]FileID, []FileFailure) {
	ids, fails := f.imp.Import(ctx, in)
	out := make([]FileID, len(ids))
	for i, id := range ids {
		out[i] = FileID(id)
	}
	var failures []FileFailure
	for _, x := range fails {
		failures = append(failures, FileFailure{Index: x.Index, URL: x.URL, Code: x.Code, Temporary: x.Temporary(), Err: x.Err})
	}
	return out, failures
}

func newClient(cfg Config, chats bfcontext.Store, statuses openlines.LineStatusStore, logger *slog.Logger, clk clock.Clock) (*client.Client, error) {
	mode := cfg.Credentials.Mode
	if mode == "" {
		mode = wire.MD5
	}
	opts := []client.Option{
		client.WithDomain(cfg.Domain),
		client.WithLicenceKey(cfg.Credentials.LicenceKey),
		client.WithSigning(mode, cfg.Credentials.Secrets...),
		client.WithChatContext(chats),
		client.WithLineStatus(statuses),
		client.WithProfile(cfg.Profile),
		client.WithLogger(logger),
		client.WithClock(clk),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, client.WithHTTPClient(cfg.HTTPClient))
	}
	c, err := client.New(cfg.ServerURL, append(opts, cfg.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: the client: %w", ErrConfig, err)
	}
	return c, nil
}

// clientConfirmer confirms through client.SetStatusDelivered.
type clientConfirmer struct{ c *client.Client }

// NewConfirmer adapts a client.Client to the pipeline (for a Config.Confirmer with its own options).
func NewConfirmer(c *client.Client) Confirmer { return clientConfirmer{c} }

func (c clientConfirmer) ConfirmDelivered(ctx context.Context, connector, line string, items []openlines.StatusItem) error {
	return c.c.SetStatusDelivered(ctx, items, client.Connector(connector), client.Line(line))
}

func newUserSyncer(ctx context.Context, cfg Config, db *sqldb.DB, logger *slog.Logger, clk clock.Clock) (UserSyncer, error) {
	store, err := users.NewSQLStore(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("portal: user store: %w", err)
	}
	opts := append([]users.Option{users.WithClock(clk), users.WithLogger(logger)}, cfg.UserOptions...)
	return NewUserSyncer(users.NewSyncer(store, opts...)), nil
}

// userSyncer is a UserSyncer on a users.Syncer.
type userSyncer struct{ s *users.Syncer }

// NewUserSyncer adapts a users.Syncer to the pipeline (for a Config.Users with its own store or options).
func NewUserSyncer(s *users.Syncer) UserSyncer { return userSyncer{s} }

func (u userSyncer) SyncUser(ctx context.Context, connector string, in openlines.User) (string, error) {
	id, _, err := u.s.Sync(ctx, connector, in)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(int64(id), 10), nil
}

// LookupUser returns the internal id of a user synced before, or "".
func (u userSyncer) LookupUser(ctx context.Context, connector, externalID string) (string, error) {
	id, err := u.s.Lookup(ctx, connector, externalID)
	switch {
	case errors.Is(err, users.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	}
	return strconv.FormatInt(int64(id), 10), nil
}
