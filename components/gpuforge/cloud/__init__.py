"""What each cloud offers: capacity types, fabrics, node images, regions, prices, allocatable
resources. One submodule per concern; the planner and the components ask these, never a
hard-coded table of their own."""
