package portal

import (
	"context"
	"fmt"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

// validator is an item struct of package openlines.
type validator interface{ Validate() error }

// eachItem validates every item and hands it to fire. Items that do not fit, are invalid or whose subscriber
// fails are answered with one error each; the others are handled all the same.
func eachItem[T any, PT interface {
	*T
	validator
}](ctx context.Context, p *Portal, req *router.Request, items []T, itemErrs []error, fire func(context.Context, T) error) error {
	var failures []*wire.Error
	for i, it := range items {
		var err error
		if itemErrs != nil && itemErrs[i] != nil {
			err = &wire.Error{Code: wire.CodeBadPacket, Message: "the item does not fit §5", Err: itemErrs[i]}
		} else if err = PT(&it).Validate(); err == nil {
			if ferr := fire(ctx, it); ferr != nil {
				err = &wire.Error{Code: wire.CodeInternal, Message: "on " + req.Command, Err: ferr}
			}
		}
		if err != nil {
			p.logger.Warn("portal: item failed", "command", req.Command, "connector", req.Connector, "line", req.Line,
				"item", i, "code", string(wire.CodeOf(err)), "error", err.Error())
			failures = append(failures, &wire.Error{Code: wire.CodeOf(err), Message: fmt.Sprintf("item %d: %s", i, reason(err)), Err: err})
		}
	}
	if len(failures) > 0 {
		return &wire.ResponseError{Errors: failures}
	}
	return nil
}

func (p *Portal) receivingStatusDelivery(ctx context.Context, req *router.Request, items []openlines.StatusDeliveryItem, itemErrs []error) error {
	return eachItem(ctx, p, req, items, itemErrs, func(ctx context.Context, it openlines.StatusDeliveryItem) error {
		return p.events.delivery.fire(ctx, StatusDelivery{Connector: req.Connector, Line: req.Line, StatusDeliveryItem: it})
	})
}

func (p *Portal) receivingStatusReading(ctx context.Context, req *router.Request, items []openlines.StatusReadingItem, itemErrs []error) error {
	return eachItem(ctx, p, req, items, itemErrs, func(ctx context.Context, it openlines.StatusReadingItem) error {
		return p.events.reading.fire(ctx, StatusReading{Connector: req.Connector, Line: req.Line, StatusReadingItem: it})
	})
}

func (p *Portal) receivingError(ctx context.Context, req *router.Request, items []openlines.ErrorItem, itemErrs []error) error {
	return eachItem(ctx, p, req, items, itemErrs, func(ctx context.Context, it openlines.ErrorItem) error {
		return p.events.errors.fire(ctx, ReceivedError{Connector: req.Connector, Line: req.Line, ErrorItem: it})
	})
}

func (p *Portal) receivingStatusBlock(ctx context.Context, req *router.Request, items []openlines.StatusBlockItem, itemErrs []error) error {
	return eachItem(ctx, p, req, items, itemErrs, func(ctx context.Context, it openlines.StatusBlockItem) error {
		return p.events.block.fire(ctx, StatusBlock{Connector: req.Connector, Line: req.Line, StatusBlockItem: it})
	})
}

func (p *Portal) setChatName(ctx context.Context, req *router.Request, items []openlines.ChatName, itemErrs []error) error {
	return eachItem(ctx, p, req, items, itemErrs, func(ctx context.Context, it openlines.ChatName) error {
		return p.events.chatName.fire(ctx, ChatName{Connector: req.Connector, Line: req.Line, ChatName: it})
	})
}

// deactivateConnector marks the connector of the line ERROR (it was connected elsewhere and needs an
// administrator) and fires OnUpdateStatusConnector with the stored status.
func (p *Portal) deactivateConnector(ctx context.Context, req *router.Request, _ []any, _ []error) error {
	if req.Connector == "" {
		return wire.Errorf(wire.CodeBadPacket, "deactivateConnector without %s", wire.FieldConnector)
	}
	ctx = context.WithoutCancel(ctx)
	if err := p.status.Set(ctx, req.Connector, req.Line, FlagError, true, p.clock.Now()); err != nil {
		return &wire.Error{Code: wire.CodeInternal, Message: "storing the connector status", Err: err}
	}
	st, err := p.status.Get(ctx, req.Connector, req.Line)
	if err != nil {
		return &wire.Error{Code: wire.CodeInternal, Message: "reading the connector status", Err: err}
	}
	p.logger.Warn("portal: connector deactivated by the connector server", "connector", req.Connector, "line", req.Line)
	if err := p.events.connector.fire(ctx, st); err != nil {
		return &wire.Error{Code: wire.CodeInternal, Message: "on deactivateConnector", Err: err}
	}
	return nil
}
