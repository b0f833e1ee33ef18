// The shim module holds declarations only; this file gives the target a compilation unit.
