//! Internal macros.

/// `get_ref`, `get_mut` and `into_inner` for a middleware service whose inner service is the
/// field `inner` of type `S`. Use inside `impl<S> Service<S> { … }`.
macro_rules! inner_service_accessors {
    () => {
        /// A reference to the inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// A mutable reference to the inner service.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// The inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

pub(crate) use inner_service_accessors;
