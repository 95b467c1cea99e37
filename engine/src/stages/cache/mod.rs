//! The cache stage: answers to earlier questions, served again when a new question
//! in the same scope asks the same thing. It is being built in steps (issue 14); so
//! far it holds the checks a semantic candidate must pass ([`verify`]).

mod lexicon;
pub mod verify;
