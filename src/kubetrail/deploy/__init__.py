"""Deploy: put an audit policy into a control plane safely, and check one there."""
