package zmtp

// connCount returns the number of established connections the server
// holds in its routing table: the tests check that closed peers leave it.
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
