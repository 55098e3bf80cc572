package portal

import "context"

// StopRetries stops the portal's retrier, so that a test runs the due items itself with RunDue.
func StopRetries(p *Portal) { p.retrier.close() }

// RunDue runs every item due now on the portal's clock, in the caller's goroutine.
func RunDue(p *Portal) { p.retrier.runDue(context.Background(), nil) }
