package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/olctl/olctl/internal/httpserve"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// SecretMask is what readSettings answers instead of a secret. A saveSettings that sends it back for a
// secret keeps the stored value.
const SecretMask = "********"

// call is one verified remote call of a portal.
type call struct {
	site      *siteRec
	p         *wire.Packet
	args      []any
	connector string // lower-cased CONNECTOR ("" or "all" for calls not bound to one)
	line      string
}

type method func(s *Server, ctx context.Context, c *call) (any, error)

// methods are the remote methods of docs/protocol.md §10, by lower-case name.
var methods = byLowerName(map[string]method{
	openlines.MethodSaveSettings:              (*Server).mSaveSettings,
	openlines.MethodTestConnect:               (*Server).mTestConnect,
	openlines.MethodRegister:                  (*Server).mRegister,
	openlines.MethodUnregister:                (*Server).mUnregister,
	openlines.MethodDeleteConnector:           (*Server).mDeleteConnector,
	openlines.MethodReadSettings:              (*Server).mReadSettings,
	openlines.MethodInfoConnect:               (*Server).mInfoConnect,
	openlines.MethodInfoConnectLink:           (*Server).mInfoConnectLink,
	openlines.MethodListConnector:             (*Server).mListConnector,
	openlines.MethodInfoConnectorsLine:        (*Server).mInfoConnectorsLine,
	openlines.MethodDeleteLine:                (*Server).mDeleteLine,
	openlines.MethodSaveDomainSite:            (*Server).mSaveDomainSite,
	openlines.MethodSendMessage:               (*Server).mSend,
	openlines.MethodUpdateMessage:             (*Server).mSend,
	openlines.MethodDeleteMessage:             (*Server).mSend,
	openlines.MethodSetStatusDelivered:        (*Server).mSetStatusDelivered,
	openlines.MethodSetStatusReading:          (*Server).mNoop,
	openlines.MethodInitializeReceiveMessages: (*Server).mNoop,
})

func byLowerName(in map[string]method) map[string]method {
	out := make(map[string]method, len(in))
	for name, m := range in {
		out[strings.ToLower(name)] = m
	}
	return out
}

// overridable are the methods a channel's MethodProvider may answer instead of the server.
var overridable = map[string]bool{"infoconnectlink": true, "setstatusreading": true, "initializereceivemessages": true}

// portalCall is a portal's call as far as it was read, for its log line: the site (the BX_DOMAIN of a
// verified packet), the method, the connector and the line.
type portalCall struct{ site, command, connector, line string }

// attrs are the log attributes of the call.
func (pc *portalCall) attrs(code string, took time.Duration) []slog.Attr {
	return []slog.Attr{slog.String("site", pc.site), slog.String("command", pc.command), slog.String("connector", pc.connector),
		slog.String("line", pc.line), slog.String("code", code), slog.Duration("took", took)}
}

// handlePortal answers a portal's call and logs it in one line: at Debug when it succeeded, at Info when it
// was refused, at Error for an internal failure.
func (s *Server) handlePortal(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Clock.Now()
	var pc portalCall
	data, err := s.portal(r, &pc)
	err = badText(err)
	if err != nil && httpserve.Gone(r) {
		s.log.Debug("connector: the portal left before its answer", "err", err)
		httpserve.Abort() // nobody to answer: no INTERNAL_ERROR "context canceled"
	}
	code := "OK"
	switch {
	case err == nil:
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.LogAttrs(r.Context(), slog.LevelDebug, "connector: portal call", pc.attrs(code, s.cfg.Clock.Now().Sub(start))...)
		}
	case wire.CodeOf(err) == wire.CodeInternal:
		code = string(wire.CodeInternal)
		s.log.LogAttrs(r.Context(), slog.LevelError, "connector: portal call", append(pc.attrs(code, s.cfg.Clock.Now().Sub(start)),
			slog.Any("err", err))...)
	default:
		code = string(wire.CodeOf(err))
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "connector: portal call refused", append(pc.attrs(code, s.cfg.Clock.Now().Sub(start)),
			slog.Any("err", err))...)
	}
	s.m.requests.WithLabelValues("portal", code).Inc()
	s.m.reqSeconds.WithLabelValues("portal").Observe(s.cfg.Clock.Now().Sub(start).Seconds())
	wire.WriteResponse(w, data, err)
}

func (s *Server) portal(r *http.Request, pc *portalCall) (data any, err error) {
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, wire.Errorf(wire.CodeInternal, "panic: %v", p)
		}
	}()
	fields, err := wire.ReadForm(r, s.cfg.MaxBody)
	if err != nil {
		return nil, err
	}
	p, err := wire.Parse(fields, wire.ToServer)
	if err != nil {
		return nil, err
	}
	pc.command, pc.connector, pc.line = p.Command, p.Connector, p.Line
	ctx := r.Context()
	site, err := s.store.siteByLicence(ctx, p.Licence)
	if err != nil {
		return nil, err
	}
	if err := wire.Verify(fields, site.site.credentials(), s.guard); err != nil {
		return nil, err
	}
	pc.site = p.Domain
	if err := p.DecodeData(); err != nil {
		return nil, err
	}
	args, err := p.Items()
	if err != nil {
		return nil, err
	}
	if err := checkDomain(p.Domain); err != nil {
		return nil, err
	}
	if len(p.Version) > maxVersionLen {
		return nil, wire.Errorf(wire.CodeBadPacket, "BX_VERSION longer than %d bytes", maxVersionLen)
	}
	// The packet tells the site's domain and, with ProfileAuto, its generation (docs/protocol.md §11).
	if site, err = s.store.noteSite(ctx, site, p.Domain, p.Version); err != nil {
		return nil, err
	}
	c := &call{site: site, p: p, args: args, connector: strings.ToLower(p.Connector), line: p.Line}
	if len(c.line) > maxLineLen || len(c.connector) > maxConnectorLen {
		return nil, wire.Errorf(wire.CodeBadPacket, "LINE or CONNECTOR too long")
	}
	name := strings.ToLower(p.Command)
	if overridable[name] || methods[name] == nil {
		if fn := s.channelMethod(c.connector, name); fn != nil {
			return s.callChannelMethod(ctx, c, fn)
		}
	}
	m := methods[name]
	if m == nil {
		return nil, wire.Errorf(wire.CodeMethodNotFound, "unknown method %q", p.Command)
	}
	return m(s, ctx, c)
}

// checkDomain accepts an http(s) base URL.
func checkDomain(d string) error {
	if !strings.HasPrefix(d, "http://") && !strings.HasPrefix(d, "https://") || len(d) > 512 || strings.ContainsAny(d, " \t\r\n?#") {
		return wire.Errorf(wire.CodeBadPacket, "BX_DOMAIN %q is not an http(s) base URL", d)
	}
	return nil
}

func (s *Server) channelMethod(connector, name string) Method {
	if connector == "" || connector == openlines.ConnectorAll {
		return nil
	}
	return s.methods[openlines.RealConnector(connector)][name]
}

func (s *Server) callChannelMethod(ctx context.Context, c *call, fn Method) (any, error) {
	l, err := s.store.lineBy(ctx, s.store.rdb(), `site_id = ? AND line = ? AND connector = ?`, c.site.id, c.line, c.connector)
	if err != nil {
		return nil, err
	}
	view := &Line{SiteDomain: c.site.domain, SiteLicence: c.site.site.licence(), LineID: c.line, Connector: c.connector, Settings: map[string]string{}}
	if l != nil {
		view = s.line(c.site, l)
	}
	return fn(ctx, view, c.args)
}

// bound returns the channel and (when it exists) the line connector a call is about.
func (s *Server) bound(ctx context.Context, c *call) (Channel, *lineRec, error) {
	if c.connector == "" || c.connector == openlines.ConnectorAll {
		return nil, nil, wire.Errorf(wire.CodeBadPacket, "%s needs CONNECTOR to name a connector, not %q", c.p.Command, c.p.Connector)
	}
	if c.line == "" {
		return nil, nil, wire.Errorf(wire.CodeBadPacket, "LINE is empty")
	}
	ch, err := s.Channel(c.connector)
	if err != nil {
		return nil, nil, err
	}
	l, err := s.store.lineBy(ctx, s.store.rdb(), `site_id = ? AND line = ? AND connector = ?`, c.site.id, c.line, c.connector)
	if err == nil && l == nil && openlines.RealConnector(c.connector) != c.connector {
		// A virtual connector (botframework.skype) is carried by the line's real one: the portal answers a chat
		// with the connector its items came with.
		l, err = s.store.lineBy(ctx, s.store.rdb(), `site_id = ? AND line = ? AND connector = ?`, c.site.id, c.line, openlines.RealConnector(c.connector))
	}
	return ch, l, err
}

// mustLine is bound for methods that need the line connector to exist.
func (s *Server) mustLine(ctx context.Context, c *call) (Channel, *lineRec, error) {
	ch, l, err := s.bound(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if l == nil {
		if err := s.movedError(ctx, c); err != nil {
			return nil, nil, err
		}
		return nil, nil, wire.Errorf(wire.CodeNotActiveLine, "connector %s is not set up on line %s (saveSettings first)", c.connector, c.line)
	}
	return ch, l, nil
}

// movedError is the NOT_ACTIVE_LINE of a line connector that is not there because its entity (the bot)
// was registered on another line or portal, which it names; nil when it did not move.
func (s *Server) movedError(ctx context.Context, c *call) error {
	for _, id := range []string{c.connector, openlines.RealConnector(c.connector)} {
		site, line, ok, err := s.store.movedTo(ctx, c.site.id, c.line, id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		where := "line " + line
		if site != c.site.id {
			where = "another portal"
		}
		return wire.Errorf(wire.CodeNotActiveLine, "connector %s of line %s moved to %s: its entity (the bot) was "+
			"registered there, and this line was deactivated; saveSettings, testConnect and register connect it again",
			id, c.line, where)
	}
	return nil
}

func ok() map[string]any { return map[string]any{"RESULT": "OK"} }

// withCode keeps err's own protocol code, or gives it code.
func withCode(err error, code wire.Code) error {
	var we *wire.Error
	if errors.As(err, &we) {
		return err
	}
	return &wire.Error{Code: code, Message: err.Error(), Err: err}
}

// arg returns positional argument i ("" when absent).
func (c *call) arg(i int) any {
	if i < len(c.args) {
		return c.args[i]
	}
	return nil
}

// settingsArg reads saveSettings' argument: a map of scalar values ("0" stays "0").
func settingsArg(v any) (map[string]string, error) {
	out := map[string]string{}
	switch x := v.(type) {
	case nil, string:
		if x != nil && x.(string) != "" {
			return nil, wire.Errorf(wire.CodeFailedSaveSettings, "settings must be an array of key => value")
		}
		return out, nil
	case *wire.Map:
		for _, e := range x.Entries {
			k := fmt.Sprint(e.Key)
			if k == "" || len(k) > maxParamName {
				return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting name %q is empty or longer than %d bytes", k, maxParamName)
			}
			switch val := e.Value.(type) {
			case *wire.Map, []any:
				// An empty array (#EMPTY_ARRAY# from a current portal) is an empty setting.
				if !wire.IsEmpty(val) {
					return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting %q must be a scalar", k)
				}
				out[k] = ""
			default:
				out[k] = scalarString(val)
			}
		}
		return out, nil
	case []any:
		if len(x) == 0 {
			return out, nil
		}
	}
	return nil, wire.Errorf(wire.CodeFailedSaveSettings, "settings must be an array of key => value")
}

func (s *Server) mSaveSettings(ctx context.Context, c *call) (any, error) {
	ch, l, err := s.bound(ctx, c)
	if err != nil {
		return nil, err
	}
	in, err := settingsArg(c.arg(0))
	if err != nil {
		return nil, err
	}
	view := &Line{SiteDomain: c.site.domain, SiteLicence: c.site.site.licence(), LineID: c.line, Connector: c.connector, Settings: map[string]string{}}
	if l != nil {
		view = s.line(c.site, l)
		for _, k := range ch.SecretKeys() {
			if v, ok := in[k]; ok && v == SecretMask {
				in[k] = l.params[k]
			}
		}
	}
	out, err := ch.SaveSettings(ctx, view, in)
	if err != nil {
		return nil, withCode(err, wire.CodeFailedSaveSettings)
	}
	for k := range out {
		if k == "" || len(k) > maxParamName {
			return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting name %q is empty or longer than %d bytes", k, maxParamName)
		}
	}
	nl, err := s.store.saveLine(ctx, c.site.id, c.line, c.connector, out)
	if err != nil {
		return nil, err
	}
	res := ok()
	res["URL_WEBHOOK"] = s.webhookURL(nl.realID, nl.hash)
	return res, nil
}

// mTestConnect answers testConnect: the channel tests the line connector when there is one (a LINE of a
// connector set up), and the portal's own endpoint must answer a signed testConnect.
func (s *Server) mTestConnect(ctx context.Context, c *call) (any, error) {
	var l *lineRec
	var ch Channel
	if c.connector != "" && c.connector != openlines.ConnectorAll && c.line != "" {
		var err error
		if ch, l, err = s.bound(ctx, c); err != nil {
			return nil, err
		}
	}
	if l != nil {
		if err := ch.TestConnect(ctx, s.line(c.site, l)); err != nil {
			_ = s.store.setFlags(ctx, l.id, ptr(false), nil, ptr(true))
			return nil, withCode(err, wire.CodeFailedTestConnector)
		}
	}
	if err := s.testPortal(ctx, c); err != nil {
		return nil, err
	}
	if l != nil {
		if err := s.store.setFlags(ctx, l.id, ptr(true), nil, ptr(false)); err != nil {
			return nil, err
		}
	}
	return openlines.TestConnectAnswer{Result: "OK"}, nil
}

// testPortal checks the other direction: the portal's own endpoint answers a signed testConnect. The answer
// counts by OK alone (docs/protocol.md §5): a legacy portal adds {"RESULT":"OK"}, a current one DATA [].
// A failure is FAILED_TO_TEST_CONNECTOR whose message names the cause's code first ("…does not answer
// testConnect: NETWORK_ERROR: dial tcp …"), so that a person, and olctl check, can tell a portal out of
// reach from one that refuses the server's signature.
func (s *Server) testPortal(ctx context.Context, c *call) error {
	_, err := s.post(ctx, c.site, &wire.Packet{Command: openlines.CommandTestConnect, Connector: c.p.Connector, Line: c.line, Data: []any{}})
	if err == nil {
		return nil
	}
	cause := err.Error() // the portal's codes, or the reader's, come first in it
	var re *wire.ResponseError
	var we *wire.Error
	if !errors.As(err, &re) && !errors.As(err, &we) { // no answer in the protocol: the transport's failure
		cause = string(wire.CodeNetwork) + ": " + cause
	}
	return wire.Errorf(wire.CodeFailedTestConnector, "the portal's endpoint %s%s does not answer testConnect: %s",
		trimSlash(c.site.domain), s.cfg.PortalPath, cause)
}

// mRegister registers a line connector whose testConnect succeeded since its last saveSettings
// (docs/protocol.md §10: saveSettings → testConnect → register; a register after a failed or missing
// testConnect is FAILED_REGISTER_CONNECTOR).
func (s *Server) mRegister(ctx context.Context, c *call) (any, error) {
	ch, l, err := s.mustLine(ctx, c)
	if err != nil {
		return nil, err
	}
	if !l.connection {
		return nil, wire.Errorf(wire.CodeFailedRegister, "connector %s of line %s has no successful testConnect since its settings were saved (testConnect first)", l.connector, l.line)
	}
	reg, err := ch.Register(ctx, s.line(c.site, l))
	if err != nil {
		_ = s.store.setFlags(ctx, l.id, nil, ptr(false), ptr(true))
		return nil, withCode(err, wire.CodeFailedRegister)
	}
	if len(reg.EntityKey) > maxKeyLen {
		return nil, wire.Errorf(wire.CodeFailedRegister, "entity key longer than %d bytes", maxKeyLen)
	}
	movedFrom, err := s.store.claimEntity(ctx, l, reg.EntityKey)
	if err != nil {
		return nil, err
	}
	for _, m := range movedFrom {
		s.m.enqueued.WithLabelValues(openlines.CommandDeactivateConnector).Inc()
		s.log.Warn("connector: entity moved; old line connector deleted and deactivated",
			"entity_real", l.realID, "old_line", m.line, "old_connector", m.connector, "new_line", l.line)
	}
	if len(movedFrom) > 0 {
		s.wake()
	}
	res := map[string]any{}
	for k, v := range reg.Info {
		res[k] = v
	}
	res["RESULT"] = "OK"
	res["URL_WEBHOOK"] = s.webhookURL(l.realID, l.hash)
	var from []map[string]string
	for _, m := range movedFrom {
		if m.siteID == c.site.id { // another portal's lines are its own business
			from = append(from, map[string]string{"CONNECTOR": m.connector, "LINE": m.line})
		}
	}
	if len(from) > 0 {
		res["MOVED_FROM"] = from
	}
	return res, nil
}

func (s *Server) mUnregister(ctx context.Context, c *call) (any, error) {
	ch, l, err := s.mustLine(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := ch.Unregister(ctx, s.line(c.site, l)); err != nil {
		return nil, withCode(err, wire.CodeInternal)
	}
	if err := s.store.unregister(ctx, l); err != nil {
		return nil, err
	}
	return ok(), nil
}

func (s *Server) mDeleteConnector(ctx context.Context, c *call) (any, error) {
	ch, l, err := s.bound(ctx, c)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return ok(), nil
	}
	if err := ch.Unregister(ctx, s.line(c.site, l)); err != nil {
		s.log.Warn("connector: unregister before delete", "connector", l.connector, "line", l.line, "err", err)
	}
	if err := s.store.deleteLines(ctx, []*lineRec{l}); err != nil {
		return nil, err
	}
	return ok(), nil
}

func (s *Server) mReadSettings(ctx context.Context, c *call) (any, error) {
	ch, l, err := s.mustLine(ctx, c)
	if err != nil {
		return nil, err
	}
	return maskSettings(l.params, ch.SecretKeys()), nil
}

// maskSettings returns params with every non-empty secret replaced by SecretMask (JSON sorts the keys).
func maskSettings(params map[string]string, secrets []string) map[string]string {
	out := make(map[string]string, len(params))
	for k, v := range params {
		out[k] = v
	}
	for _, k := range secrets {
		if out[k] != "" {
			out[k] = SecretMask
		}
	}
	return out
}

func status(l *lineRec) map[string]bool {
	return map[string]bool{"ACTIVE": l.active, "CONNECTION": l.connection, "REGISTER": l.registered, "ERROR": l.errFlag}
}

func (s *Server) mInfoConnect(ctx context.Context, c *call) (any, error) {
	ch, l, err := s.mustLine(ctx, c)
	if err != nil {
		return nil, err
	}
	res := map[string]any{}
	for k, v := range ch.Info(s.line(c.site, l)) {
		res[k] = v
	}
	res["ID"] = l.connector
	res["LINE"] = l.line
	res["STATUS"] = status(l)
	res["URL_WEBHOOK"] = s.webhookURL(l.realID, l.hash)
	return res, nil
}

func (s *Server) mInfoConnectLink(ctx context.Context, c *call) (any, error) {
	ch, l, err := s.mustLine(ctx, c)
	if err != nil {
		return nil, err
	}
	res := map[string]any{"URL_WEBHOOK": s.webhookURL(l.realID, l.hash)}
	if links, ok := ch.Info(s.line(c.site, l))["links"]; ok {
		res["LINKS"] = links
	}
	return res, nil
}

func (s *Server) mListConnector(context.Context, *call) (any, error) {
	out := map[string]string{}
	for id := range s.channels {
		out[id] = id
	}
	return out, nil
}

// argLines returns the line connectors of the line infoConnectorsLine and deleteLine are about: the first
// argument, else LINE.
func (s *Server) argLines(ctx context.Context, c *call) ([]*lineRec, error) {
	line := scalarString(c.arg(0))
	if line == "" {
		line = c.line
	}
	if line == "" || len(line) > maxLineLen {
		return nil, wire.Errorf(wire.CodeBadPacket, "the line id (first argument or LINE) is missing or too long")
	}
	return s.store.linesOf(ctx, c.site.id, line)
}

func (s *Server) mInfoConnectorsLine(ctx context.Context, c *call) (any, error) {
	ls, err := s.argLines(ctx, c)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, l := range ls {
		out[l.connector] = map[string]any{"STATUS": status(l), "URL_WEBHOOK": s.webhookURL(l.realID, l.hash)}
	}
	return out, nil
}

func (s *Server) mDeleteLine(ctx context.Context, c *call) (any, error) {
	ls, err := s.argLines(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if ch, err := s.Channel(l.connector); err == nil {
			if l.params, err = s.store.params(ctx, s.store.rdb(), l.id); err == nil {
				if err := ch.Unregister(ctx, s.line(c.site, l)); err != nil {
					s.log.Warn("connector: unregister before delete", "connector", l.connector, "line", l.line, "err", err)
				}
			}
		}
	}
	if err := s.store.deleteLines(ctx, ls); err != nil {
		return nil, err
	}
	res := ok()
	res["DELETED"] = len(ls)
	return res, nil
}

// listArg reads an argument that must be a list of items (an empty value is an empty list).
func listArg(v any, what string) ([]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
	case []any:
		return x, nil
	case *wire.Map:
		out := make([]any, 0, len(x.Entries))
		for _, e := range x.Entries {
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, wire.Errorf(wire.CodeBadPacket, "%s must be a list", what)
}

func (s *Server) mSend(ctx context.Context, c *call) (any, error) {
	ch, l, err := s.mustLine(ctx, c)
	if err != nil {
		return nil, err
	}
	if !l.active {
		return nil, wire.Errorf(wire.CodeNotActiveLine, "connector %s of line %s is not active", l.connector, l.line)
	}
	items, err := listArg(c.arg(0), "the messages")
	if err != nil {
		return nil, err
	}
	for i, it := range items {
		if _, ok := it.(*wire.Map); !ok {
			return nil, wire.Errorf(wire.CodeBadPacket, "message %d is not an array", i)
		}
	}
	if len(items) == 0 {
		return ok(), nil
	}
	method := c.p.Command
	for _, m := range []string{openlines.MethodSendMessage, openlines.MethodUpdateMessage, openlines.MethodDeleteMessage} {
		if strings.EqualFold(m, method) {
			method = m
		}
	}
	// The channel works for the connector the portal named: for a virtual one (botframework.webchat) carried
	// by its real line connector (botframework), the delivery reports go back under the virtual id, the one
	// the portal's chat belongs to.
	line := s.line(c.site, l)
	line.Connector = c.connector
	report, err := ch.Send(ctx, line, method, items)
	if err != nil {
		return nil, withCode(err, wire.CodeInternal)
	}
	if len(report) > 0 {
		s.enq.begin()
		if _, err := s.enqueue(ctx, c.site, l.line, c.connector, report); err != nil {
			return nil, err
		}
	}
	res := ok()
	res["COUNT"] = len(items)
	return res, nil
}

func (s *Server) mSetStatusDelivered(ctx context.Context, c *call) (any, error) {
	if c.line == "" {
		return nil, wire.Errorf(wire.CodeBadPacket, "LINE is empty")
	}
	items, err := listArg(c.arg(0), "the delivered items")
	if err != nil {
		return nil, err
	}
	keys := make([]msgKey, 0, len(items))
	for i, it := range items {
		var d struct {
			Chat struct {
				ID string `php:"id"`
			} `php:"chat"`
			Message struct {
				ID string `php:"id"`
			} `php:"message"`
		}
		if err := wire.Bind(it, &d); err != nil {
			return nil, wire.Errorf(wire.CodeBadPacket, "item %d: %v", i, err)
		}
		if d.Chat.ID == "" || d.Message.ID == "" {
			return nil, wire.Errorf(wire.CodeBadPacket, "item %d: chat.id and message.id are required", i)
		}
		keys = append(keys, msgKey{d.Chat.ID, d.Message.ID})
	}
	cr, err := s.store.confirm(ctx, c.site.id, c.line, keys)
	if err != nil {
		return nil, err
	}
	if cr.confirmed > 0 {
		s.m.confirmed.Add(float64(cr.confirmed))
	}
	if cr.unblocked {
		s.logRecovery(siteName(c.site), c.line, cr.recovered)
		s.wake()
	}
	res := ok()
	res["CONFIRMED"] = cr.confirmed
	return res, nil
}

func (s *Server) mNoop(context.Context, *call) (any, error) { return ok(), nil }

// mSaveDomainSite records the portal's new public base URL (its argument): the server's packets go there
// from now on.
func (s *Server) mSaveDomainSite(ctx context.Context, c *call) (any, error) {
	domain := trimSlash(scalarString(c.arg(0)))
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	if _, err := s.store.noteSite(ctx, c.site, domain, c.site.version); err != nil {
		return nil, err
	}
	return ok(), nil
}
