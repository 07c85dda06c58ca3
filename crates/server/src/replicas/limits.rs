//! Rate limit and lockout shared through Redis (next).
