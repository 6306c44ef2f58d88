package msg

import (
	"errors"
	"fmt"
)

// Error is a msg error with a stable, snake_case code for the API and the
// chat protocol's error frames.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return "msg: " + e.msg }

// Code returns the API code.
func (e *Error) Code() string { return e.code }

// Sentinel errors. Compare with errors.Is; map to codes with [Code].
var (
	// Text limits ([CleanText]).
	ErrTextEmpty   = &Error{"text_invalid", "the message is empty"}
	ErrTextInvalid = &Error{"text_invalid", "the message must be UTF-8 text without control characters other than newline and tab"}
	ErrTextTooLong = &Error{"too_large", fmt.Sprintf("the message is over %d bytes", MaxTextBytes)}

	// Thread input (programming or configuration errors of the caller).
	ErrBadRef       = &Error{"bad_request", "an order reference is 1–64 characters of A-Z a-z 0-9 _ -"}
	ErrBadFrom      = &Error{"bad_request", `a message is from "buyer", "staff", "system" or "auto"`}
	ErrBadStaff     = &Error{"bad_request", "a staff name is 1–64 printable characters, and only staff messages carry one"}
	ErrBadRecipient = &Error{"bad_request", "a thread needs at least one valid age recipient"}
	// ErrThreadCorrupt: a sealed message does not belong where it is stored
	// (moved or replayed on disk).
	ErrThreadCorrupt = &Error{"internal", "a thread message is stored out of place"}

	// Rooms.
	ErrRoomOpen     = &Error{"room_open", "the order already has an open chat room"}
	ErrTooManyRooms = &Error{"too_many_rooms", "too many chat rooms for this order today"}
	ErrRoomClosed   = &Error{"room_closed", "the chat room is closed"}
	ErrRoomNotFound = &Error{"room_not_found", "no such chat room"}
	ErrHubClosed    = &Error{"unavailable", "chat is shutting down"}

	// Chat protocol.
	ErrBadFrame    = &Error{"bad_frame", "malformed or unexpected frame"}
	ErrBadSecret   = &Error{"bad_secret", "unknown or already used join secret"}
	ErrFrameLarge  = &Error{"too_large", "the frame is too large"}
	ErrRateLimited = &Error{"rate_limited", "too many messages in this room, wait a moment"}
	ErrNotSaved    = &Error{"internal", "the message could not be saved; it was not sent"}
)

// Code maps an error from this package to its code ("room_open",
// "too_many_rooms", "bad_secret", "text_invalid", …); anything else, such
// as a store failure, is "internal". nil maps to "".
func Code(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return "internal"
}
