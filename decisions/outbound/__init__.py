"""What leaves the portal: verdict webhooks to integrations and notifications to people."""
