// linux/rcupdate.h as devsim's C++ side sees it: the C declarations, without the macros, which would rewrite the
// C++ functions and members of the same names (cabi/rcu.cpp defines the entry points, cabi/srcu.cpp uses them).
#pragma once

extern "C" {
#include "include/linux/rcupdate.h"
}
#undef rcu_read_lock
#undef rcu_read_unlock
#undef synchronize_rcu
#undef call_rcu
#undef kfree_rcu
#undef rcu_barrier
#undef rcu_dereference
#undef rcu_dereference_check
#undef rcu_dereference_protected
#undef rcu_dereference_raw
#undef rcu_assign_pointer
