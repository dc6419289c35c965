"""The global catalog: events, ticket types, check-in lists, attendees, badge keys."""
