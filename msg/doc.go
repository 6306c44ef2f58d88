// Package msg is veil's support messaging: durable, sealed support threads
// and one-time live chat rooms over WebSocket.
//
// Threads ([Threads]) are the record. Every message is its own age file,
// sealed to the order recipient and the merchant's support recipient and
// stored under "thread/<ref>/<seq>"; only the sequence number is in the
// clear. The token holder opens the thread with the order identity, staff
// with the support identity, and [Threads.Delete] erases it at retention.
//
// Rooms ([Hub]) are the live channel and live in memory only. A buyer's
// room is opened with [Hub.Open], which returns a single-use join secret;
// staff get their own with [Hub.StaffSecret]. Both sides connect to
// [Hub.ServeWS] and speak the protocol of API.md ("Chat protocol"); every
// message said in a room is appended to the order's thread before it is
// relayed. A room closes for good when either side ends it, when it idles
// or outlives its maximum lifetime, or when the hub shuts down.
//
// Concurrency follows the gorilla chat example: the hub's registry (rooms,
// secrets, per-order counters) is owned by one goroutine, each room's state
// by the room's goroutine, and each connection has one reader and one
// writer goroutine with a bounded send buffer. A room never waits on a
// connection: a peer whose buffer is full is dropped.
//
// Nothing said in a chat, no join secret and no token is ever logged or
// written in the clear; logs name room ids and order references only.
package msg
