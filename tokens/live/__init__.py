"""What pages hear: group names, message shapes, the broadcast; and a loop's health, said once."""
