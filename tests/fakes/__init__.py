"""In-memory fakes of the outside systems Ripple drives, for fast tests of the code that drives
them; each one is held to the real system's answers by a contract suite in tests/contract/."""
