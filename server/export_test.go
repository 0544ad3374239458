package server

// Activated is activated, for tests: the fds and names systemd passed.
var Activated = activated
