package postgresql

// For the quoting tests, which run the quoted text on a real server.
var (
	QuoteIdent = quoteIdent
	Literal    = literal
)
