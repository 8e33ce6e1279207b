package server

import "strconv"

// byteSize writes n in the form echo's BodyLimit parses ("1048576B").
func byteSize(n int64) string { return strconv.FormatInt(n, 10) + "B" }
