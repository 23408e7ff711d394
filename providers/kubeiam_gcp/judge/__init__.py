"""What a Google identity may do: role catalogue, role profiles, who a member admits, judged grants."""
